"""Holder of the aarch64 stand-in's private namespaces (test infrastructure; a standalone script).

Run by :class:`phone_standin.emulation.EmulatedNamespace` as
``python -I namespace_holder.py ROOT QEMU CPUINFO`` with pipes on stdin and
stdout. Standard library only: it must not import the controller package
(the ``-I`` interpreter sees only the standard library).

Protocol (one line each on stdout):

1. ``unshared``: a new user, mount and pid namespace exist; the parent now
   writes the identity ``uid_map``/``gid_map`` (a process cannot map more than
   its own id into its own namespace, see user_namespaces(7)), then sends one
   line on stdin;
2. ``pid N``: the host pid of pid 1 of the new pid namespace (the process that
   commands ``nsenter`` into);
3. ``ready`` once mounts and the binfmt_misc handler are in place, or
   ``error: ...`` and exit status 1.

Inside: every mount is private (nothing propagates to the host); a private
binfmt_misc instance (one per user namespace since Linux 6.7, kernel commit
"binfmt_misc: enable sandboxed mounts", https://kernelnewbies.org/Linux_6.7) hands aarch64 ELF files
to qemu-user, with ``F`` so the interpreter is opened now and works inside the
chroot, and ``P`` so argv[0] reaches the guest as a phone's kernel passes it;
a fresh procfs (``hidepid=invisible``, as Android mounts it) with a fake
``/proc/cpuinfo`` on top; ``/dev`` as a tmpfs holding bind mounts of the
host's ``null``, ``zero``, ``random``, ``urandom``. pid 1 then chroots into
ROOT and waits for EOF on stdin: when it exits (the stand-in stopped or died)
the kernel kills every process of the pid namespace, and the namespaces with
their mounts and binfmt entry disappear with the last process.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
BINFMT_DIR = "/proc/sys/fs/binfmt_misc"
BINFMT_NAME = "qemu-aarch64"
# ELF header of an aarch64 executable or shared object (e_machine 0xb7), as in
# qemu's scripts/qemu-binfmt-conf.sh; the register file parses the \x escapes.
AARCH64_MAGIC = r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
AARCH64_MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
DEVICES = ("null", "zero", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    encoded = [value.encode() if value else None for value in (source, target, fstype, data)]
    result = _libc.mount(encoded[0], encoded[1], encoded[2], ctypes.c_ulong(flags), encoded[3])
    _check(result, f"mount {target}")


def _say(line: str) -> None:
    os.write(1, f"{line}\n".encode())


def register_binfmt(qemu: str) -> None:
    """Mount this user namespace's own binfmt_misc and register qemu-aarch64 in it."""
    _mount("binfmt_misc", BINFMT_DIR, "binfmt_misc", 0)
    rule = f":{BINFMT_NAME}:M::{AARCH64_MAGIC}:{AARCH64_MASK}:{qemu}:FP"
    with open(f"{BINFMT_DIR}/register", "w", encoding="ascii") as register:
        register.write(rule)


def mount_device_files(root: str, cpuinfo: str) -> None:
    """procfs (with a fake cpuinfo) and the few device nodes, under root."""
    try:
        _mount("proc", f"{root}/proc", "proc", 0, "hidepid=invisible")
    except OSError:
        _mount("proc", f"{root}/proc", "proc", 0)  # kernels before 5.8 lack "invisible"
    # qemu-user 7.2 shows the guest the host's /proc/cpuinfo, on which
    # onnxruntime's cpuinfo library crashes: an aarch64 one replaces it.
    _mount(cpuinfo, f"{root}/proc/cpuinfo", None, MS_BIND)
    _mount("tmpfs", f"{root}/dev", "tmpfs", 0, "mode=755,size=64k")
    for name in DEVICES:
        with open(f"{root}/dev/{name}", "w", encoding="ascii"):
            pass
        _mount(f"/dev/{name}", f"{root}/dev/{name}", None, MS_BIND)


def namespace_init(root: str, qemu: str, cpuinfo: str) -> None:
    """pid 1 of the new pid namespace: set up, chroot, wait for EOF on stdin."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # Orphans (nohup daemons) are re-parented to us: reap them at once, so a
    # dead daemon is not a zombie that `kill -0` still finds.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        register_binfmt(qemu)
        mount_device_files(root, cpuinfo)
        os.chroot(root)
        os.chdir("/")
    except OSError as exc:
        _say(f"error: {exc}")
        os._exit(1)
    _say("ready")
    while os.read(0, 4096):
        pass
    os._exit(0)


def main(argv: list[str]) -> int:
    """Unshare, wait for the id maps, fork pid 1 of the new pid namespace, wait for it."""
    root, qemu, cpuinfo = argv[1:4]
    try:
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID), "unshare")
    except OSError as exc:
        _say(f"error: {exc}")
        return 1
    _say("unshared")
    if not sys.stdin.buffer.readline():
        return 1
    child = os.fork()
    if child == 0:
        namespace_init(root, qemu, cpuinfo)
    _say(f"pid {child}")
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
