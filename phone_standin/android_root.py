"""Lay out the aarch64 stand-in's Android-like root (test infrastructure).

The sandbox is the device's ``/`` for real (a chroot, see :mod:`.emulation`),
so it holds what a stock phone's shell user finds and nothing a phone lacks:

* ``/system/bin``: Debian's arm64 ``busybox-static`` (static: no libc needed)
  with links for the commands Android's toybox offers (:data:`TOYBOX_APPLETS`,
  the ones busybox also has) plus ``sh`` and ``awk`` (separate binaries on
  Android), and the sh tools of :mod:`.android_tools`. No python, no bash.
* ``/data/local/tmp`` owned by the shell user (2000), ``/data`` not listable by
  it (system:system 0771, as on a phone); ``/storage/emulated/0`` with
  ``/sdcard`` pointing to it; ``/vendor/lib64``; ``/etc -> /system/etc`` with
  only ``hosts`` (so ``localhost`` resolves, as on a phone).
* Empty ``/proc`` and ``/dev`` (mount points filled inside the namespace), the
  fake ``/sys`` files and props of :mod:`.sandbox`, and ``/.standin/cpuinfo``:
  a Snapdragon 8 Gen 2's ``/proc/cpuinfo``.

No ``/lib``, ``/usr``, ``/tmp``, ``/etc/passwd``: a program that needs them
fails here as it would on a phone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from phone_standin import android_tools
from phone_standin.emulation import fetch_debian_binary
from phone_standin.sandbox import BIN_RELATIVE, write_props, write_sys_files

SHELL_UID = SHELL_GID = 2000  # AID_SHELL, the user `adb shell` runs as
SYSTEM_UID = SYSTEM_GID = 1000  # AID_SYSTEM, owner of /data
# adb shell's PATH: bionic's _PATH_DEFPATH (Android 11+), https://android.googlesource.com/
# platform/bionic/+/refs/heads/main/libc/include/paths.h
ANDROID_PATH = (
    "/product/bin:/apex/com.android.runtime/bin:/apex/com.android.art/bin:"
    "/system_ext/bin:/system/bin:/system/xbin:/odm/bin:/vendor/bin:/vendor/xbin"
)
BUSYBOX_PACKAGE = ("arm64", "busybox-static", "bin/busybox")
CPUINFO_RELATIVE = Path(".standin") / "cpuinfo"
# Toybox's Android command set (the symlinks in https://android.googlesource.com/
# platform/external/toybox/+/refs/heads/main/Android.bp)
# where Debian's busybox has the applet too; sh (mksh) and awk (one-true-awk) are
# separate binaries on Android. Not here although Android has them: whoami,
# groups, logname (they need bionic's built-in user names), nohup (a script).
TOYBOX_APPLETS = (
    "sh", "awk", "[", "base64", "basename", "cat", "chgrp", "chmod", "chown", "chroot",
    "clear", "cmp", "cp", "cpio", "cut", "date", "dd", "df", "diff", "dirname", "dmesg",
    "dos2unix", "du", "echo", "egrep", "env", "expand", "expr", "false", "fgrep", "find",
    "free", "getopt", "grep", "gunzip", "gzip", "head", "hostname", "id", "kill",
    "killall", "ln", "ls", "md5sum", "mkdir", "mkfifo", "mknod", "mktemp", "more", "mount",
    "mv", "nc", "netstat", "nl", "nproc", "od", "paste", "patch", "pidof", "ping",
    "printf", "ps", "pwd", "readlink", "realpath", "renice", "rev", "rm", "rmdir", "sed",
    "seq", "setsid", "sha1sum", "sha256sum", "sha512sum", "sleep", "sort", "stat",
    "strings", "stty", "sync", "sysctl", "tac", "tail", "tar", "taskset", "tee", "test",
    "time", "timeout", "top", "touch", "tr", "true", "truncate", "tty", "umount", "uname",
    "uniq", "unix2dos", "unlink", "unzip", "uptime", "usleep", "uudecode", "uuencode",
    "vi", "watch", "wc", "which", "xargs", "xxd", "yes", "zcat",
)  # fmt: skip
HOSTS = "127.0.0.1       localhost\n::1             ip6-localhost\n"
# Snapdragon 8 Gen 2 (SM8550): 3x Cortex-A510, 2x A715, 2x A710, 1x X3 (MIDR parts).
_CORE_PARTS = ("0xd46",) * 3 + ("0xd4d",) * 2 + ("0xd47",) * 2 + ("0xd4e",)
_FEATURES = (
    "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt "
    "fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 asimdfhm dit uscat ilrcpc flagm ssbs sb "
    "paca pacg dcpodp flagm2 frint i8mm bf16 bti"
)


def fetch_busybox(cache_dir: Path) -> Path:
    """Debian's arm64 ``busybox-static`` binary, cached."""
    return fetch_debian_binary(cache_dir, *BUSYBOX_PACKAGE)


def prepare_android_root(sandbox: Path, props: Mapping[str, str], busybox: Path) -> Path:
    """Create or refresh the Android-like root under sandbox; return its resolved path.

    ``/system/bin`` is rebuilt at every start; files under ``/data`` and
    ``/sdcard`` are left alone (their owners are not changed either).
    """
    root = Path(sandbox).resolve()
    _make_dirs(root)
    _symlink(root / "sdcard", "storage/emulated/0")
    _symlink(root / "etc", "system/etc")
    (root / "system/etc/hosts").write_text(HOSTS, encoding="ascii")
    _install_bin(root / BIN_RELATIVE, busybox)
    write_props(root, props)
    write_sys_files(root, props)
    (root / CPUINFO_RELATIVE).write_text(
        cpuinfo_text(int(props.get("standin.cpu.count", "8"))), encoding="ascii"
    )
    return root


def _make_dirs(root: Path) -> None:
    # (path, mode, owner) as on a phone; "" is the root itself.
    layout = (
        ("", 0o755, 0),
        ("data", 0o771, SYSTEM_UID),
        ("data/local", 0o751, 0),
        ("data/local/tmp", 0o771, SHELL_UID),
        ("storage", 0o755, 0),
        ("storage/emulated", 0o755, 0),
        ("storage/emulated/0", 0o775, SHELL_UID),
        ("system", 0o755, 0),
        ("system/bin", 0o755, 0),
        ("system/etc", 0o755, 0),
        ("vendor", 0o755, 0),
        ("vendor/lib64", 0o755, 0),
        ("proc", 0o555, 0),
        ("dev", 0o755, 0),
        ("sys", 0o755, 0),
        (".standin", 0o755, 0),
    )
    for relative, mode, owner in layout:
        path = root / relative
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, owner, owner)
        path.chmod(mode)


def _install_bin(bin_dir: Path, busybox: Path) -> None:
    shutil.rmtree(bin_dir)  # also drops a host-mode sandbox's /bin/sh link and Python tools
    bin_dir.mkdir(mode=0o755)
    shutil.copyfile(busybox, bin_dir / "busybox")
    (bin_dir / "busybox").chmod(0o755)
    for applet in TOYBOX_APPLETS:
        (bin_dir / applet).symlink_to("busybox")
    for name, script in android_tools.TOOLS.items():
        path = bin_dir / name
        path.write_text(script, encoding="utf-8")
        path.chmod(0o755)


def cpuinfo_text(cpu_count: int) -> str:
    """An arm64 kernel's ``/proc/cpuinfo`` for a Snapdragon 8 Gen 2 (cycled past 8 cores)."""
    blocks = []
    for cpu in range(cpu_count):
        part = _CORE_PARTS[cpu % len(_CORE_PARTS)]
        blocks.append(
            f"processor\t: {cpu}\nBogoMIPS\t: 38.40\nFeatures\t: {_FEATURES}\n"
            "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\n"
            f"CPU part\t: {part}\nCPU revision\t: 0\n"
        )
    return "\n".join(blocks) + "\n"


def _symlink(link: Path, target: str) -> None:
    if link.is_symlink() or link.exists():
        return
    link.symlink_to(target)
