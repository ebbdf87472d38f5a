"""The runtime's entry point on a device, and the check that an unpacked runtime is whole.

A stock Android phone has no glibc, so the kernel cannot start a glibc program
by itself (its ``PT_INTERP`` names ``/lib/ld-linux-aarch64.so.1``, which does
not exist there). glibc's loader can be started directly instead, naming the
program: ``ld-linux-aarch64.so.1 --library-path LIB --argv0 LAUNCHER python3.11``.
``--argv0`` makes ``sys.executable`` the launcher, so ``multiprocessing``'s
spawn (one child per job: ``agent/isolation.py``) and ``subprocess`` go back
through the loader too.
"""

from __future__ import annotations

from controller.device_runtime.arches import ARCHES

LAUNCHER_RELATIVE = "bin/python3"

# Run by the runtime's own Python on the device: every file of the manifest is
# there with its size, and the agent's native imports load.
VERIFY_SOURCE = """
import json, os, sys
root = sys.argv[1]
doc = json.load(open(os.path.join(root, "devicelab-runtime.json")))
bad = [n for n, s in doc["sizes"].items()
       if not os.path.isfile(os.path.join(root, n)) or os.path.getsize(os.path.join(root, n)) != s]
if bad:
    print("DEVICELAB_RUNTIME_BAD", len(bad), " ".join(bad[:5]))
    sys.exit(1)
import grpc, numpy, psutil, google.protobuf
print("DEVICELAB_RUNTIME_OK", len(doc["sizes"]))
"""


def launcher_script(shell: str, arch: str = "aarch64") -> str:
    """The launcher, ``ROOT/bin/python3``: it finds the runtime from its own path.

    ``shell`` is the device's ``sh`` (``/system/bin/sh`` on Android, ``/bin/sh``
    on a Linux board or this host): the ``#!`` line must name one that exists.
    ``arch`` names the runtime's architecture, hence its loader. Being
    relative to itself, the launcher runs from the unpacked folder before it is
    renamed into use, so the deploy's check runs it exactly as the agent will.
    """
    return (
        f"#!{shell}\n"
        "# devicelab device runtime: glibc's loader starts Python (controller/device_runtime)\n"
        'case "$0" in /*) ;; *) echo "$0: start the runtime by its absolute path" >&2; '
        "exit 127;; esac\n"
        'R="${0%/bin/*}"\n'
        'export PYTHONHOME="$R" PYTHONNOUSERSITE=1\n'
        f'exec "$R/lib/{ARCHES[arch].loader}" --library-path "$R/lib" --argv0 "$0" '
        '"$R/bin/python3.11" "$@"\n'
    )
