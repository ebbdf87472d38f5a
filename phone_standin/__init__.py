"""Phone stand-in: a device-side ADB endpoint over TCP, for tests (and trying devicelab sans phone).

This is **test infrastructure**, not part of the product's runtime. The real
adb server accepts it with ``adb connect 127.0.0.1:PORT`` and talks to it with
the documented wire protocol (AOSP ``protocol.txt``, ``SERVICES.TXT``,
``SYNC.TXT``, ``shell_protocol.h``): shell (v1 and v2 with exit codes), sync
(push and pull v1, and v2 with brotli / lz4 / zstd compression and dry runs; stat
v1/v2, list v1/v2) and ``tcp:`` forwarding. Device paths map into a
sandbox directory; ``getprop``/``dumpsys battery`` and sysfs files are faked from
a props JSON.

Modules, one job each::

    wire        message header pack/read, constants
    streams     stream ids, flow control (one packet in flight), byte-stream reader
    connection  one adb server connection: CNXN handshake, OPEN routing, dispatch
    services    service name -> handler
    shell       shell:, shell,v2,...:, exec:
    sync        sync: requests, stat and list (STAT/STA2/LST2/LIST/LIS2/QUIT)
    sync_transfer  sync: push and pull (SEND/SND2/RECV/RCV2, compressed or not)
    forward     tcp:PORT
    paths       device path <-> sandbox mapping (shared by shell and sync)
    sandbox     sandbox layout, tools, fake sysfs
    props       default props, props JSON, CNXN banner
    processes   shell environment, spawning, kill-all
    android_root      aarch64 mode: the Android-like root (busybox, sh tools, cpuinfo)
    android_tools     aarch64 mode: getprop/dumpsys/cmd/nohup as sh scripts
    android_shell     aarch64 mode: chrooted shell processes as uid 2000
    emulation         aarch64 mode: qemu-user fetch, the namespace holder's lifecycle
    namespace_holder  aarch64 mode: the holder script (userns, mounts, binfmt_misc)
    device      StandinDevice: listener, lifecycle, faults
    testing     helpers for tests: a private adb server, a connected stand-in

Not emulated: authentication (AUTH/STLS), pty allocation (pty requests run
without one), ``abb``, ``apex`` and other features not in :data:`FEATURES`,
``root:``/``remount:``/``reboot:``/``install`` services (refused), USB
transports, Android permissions and SELinux; shell commands run on the host as
the host user (paths in their output are host paths), and the sandbox
is a convenience, not a security boundary.

Run one device until killed::

    python -m phone_standin --sandbox DIR [--port 5555] [--props props.json]
        [--serial-name NAME] [--adb-connect] [--arch host|aarch64] [--cache-dir DIR]
"""

from __future__ import annotations

from phone_standin.device import StandinConfig, StandinDevice
from phone_standin.emulation import aarch64_unavailable_reason
from phone_standin.props import DEFAULT_PROPS, FEATURES, FEATURES_BEFORE_V2

__all__ = [
    "DEFAULT_PROPS",
    "FEATURES",
    "FEATURES_BEFORE_V2",
    "StandinConfig",
    "StandinDevice",
    "aarch64_unavailable_reason",
]
