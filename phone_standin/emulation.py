"""qemu-user and the private namespaces behind the aarch64 stand-in (test infrastructure).

* :func:`fetch_debian_binary` takes one file out of one Debian package, fetched
  with :class:`controller.device_runtime.debian.PrivateApt` (nothing is
  installed on the host; the host's dpkg is never touched) and cached.
* :func:`aarch64_unavailable_reason` says why aarch64 mode cannot run here
  (tests ``pytest.skip`` with it), or None.
* :class:`EmulatedNamespace` runs one holder process per stand-in
  (:mod:`.namespace_holder`): a user + mount + pid namespace with a private
  binfmt_misc handler for aarch64 ELF files, procfs and ``/dev`` nodes, chrooted
  into the device root. Shell commands join it with ``nsenter``
  (:meth:`EmulatedNamespace.enter_argv`), so nothing is mounted per command.
  Every mount and the binfmt entry live in those namespaces: the host's mount
  table and ``/proc/sys/fs/binfmt_misc`` are never changed, and a crash of the
  stand-in ends the holder (EOF on its stdin) and with it everything inside.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import platform
import select
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from phone_standin import namespace_holder

log = logging.getLogger(__name__)
QEMU_PACKAGE = ("amd64", "qemu-user-static", "usr/bin/qemu-aarch64-static")
# The host pid range mapped 1:1 into the user namespace: root, the shell user
# (2000) and every Android app id below it.
ID_MAP = "0 0 65536\n"
HOLDER_START_TIMEOUT_S = 30.0
HOLDER_STOP_TIMEOUT_S = 5.0
_MIN_KERNEL = (6, 7)  # private binfmt_misc per user namespace


def default_cache_dir() -> Path:
    """``$DEVICELAB_HOME/cache/phone-standin``: downloaded packages and unpacked binaries."""
    from controller.settings import home_dir

    return home_dir() / "cache" / "phone-standin"


@contextlib.contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    """One fetch at a time per cache (two stand-ins may start at once)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def fetch_debian_binary(cache_dir: Path, arch: str, package: str, member: str) -> Path:
    """Path of ``member`` (a path inside the package) unpacked from Debian's ``package``.

    Downloaded once into ``cache_dir`` and reused while the file is there.

    Raises:
        controller.errors.Error: apt-get or dpkg-deb failed (e.g. no network).
    """
    from controller.device_runtime.debian import PrivateApt

    cache_dir = cache_dir.resolve()  # apt reads relative Dir:: options against /etc/apt
    target = cache_dir / "bin" / arch / Path(member).name
    with _locked(cache_dir):
        if target.exists():
            return target
        apt = PrivateApt(cache_dir / f"apt-{arch}", arch=arch)
        apt.prepare()
        wanted = [entry for entry in apt.closure([package]) if entry[0] == package]
        (deb,) = apt.download(wanted)
        _extract_member(deb.path, member, target)
        target.with_name(target.name + ".version").write_text(f"{deb.version}\n", "utf-8")
        log.info("unpacked %s %s from %s", package, deb.version, deb.path.name)
    return target


def _extract_member(deb: Path, member: str, target: Path) -> None:
    """Stream one file out of a .deb (qemu-user-static unpacks to ~370 MB; we need 13)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".partial")
    # We stop reading once the member is out: dpkg-deb's broken pipe is expected, hence DEVNULL.
    command = ["dpkg-deb", "--fsys-tarfile", str(deb)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as dpkg:
        assert dpkg.stdout is not None
        with tarfile.open(fileobj=dpkg.stdout, mode="r|") as archive:
            for entry in archive:
                if entry.name.lstrip("./") == member:
                    source = archive.extractfile(entry)
                    assert source is not None
                    with source, open(temporary, "wb") as sink:
                        shutil.copyfileobj(source, sink)
                    break
            else:
                raise FileNotFoundError(f"{member} not in {deb.name}")
    temporary.chmod(0o755)
    os.replace(temporary, target)


def fetch_qemu(cache_dir: Path) -> Path:
    """``qemu-aarch64-static`` from Debian's ``qemu-user-static`` (amd64), cached."""
    return fetch_debian_binary(cache_dir, *QEMU_PACKAGE)


def aarch64_unavailable_reason(cache_dir: Path | None = None, fetch: bool = True) -> str | None:
    """Why the aarch64 stand-in cannot run on this machine, or None if it can.

    Checks the host (Linux x86_64 kernel >= 6.7, root, user namespaces, the
    tools) and, with ``fetch``, downloads qemu-user and busybox (cached).
    """
    reason = _host_unavailable_reason()
    if reason is not None or not fetch:
        return reason
    from phone_standin.android_root import fetch_busybox

    directory = cache_dir or default_cache_dir()
    try:
        fetch_qemu(directory)
        fetch_busybox(directory)
    except Exception as exc:  # noqa: BLE001 - any failure here means "cannot run", with why
        return f"cannot fetch qemu-user-static / busybox-static from Debian: {exc}"
    return None


def _host_unavailable_reason() -> str | None:
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return f"needs a Linux x86_64 host (this is {sys.platform} {platform.machine()})"
    release = tuple(int(part) for part in platform.release().split(".")[:2] if part.isdigit())
    if release < _MIN_KERNEL:
        return f"kernel {platform.release()} < 6.7: no private binfmt_misc per user namespace"
    if os.geteuid() != 0:
        return "needs root (identity uid map over 0..65535, chown to the shell user 2000)"
    for tool in ("nsenter", "apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found on PATH"
    try:
        user_namespaces = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    except (OSError, ValueError):
        user_namespaces = 0
    if user_namespaces == 0:
        return "user namespaces are disabled (/proc/sys/user/max_user_namespaces)"
    return None


@dataclass(frozen=True)
class NamespaceSpec:
    """What the holder sets up: the device root, the qemu binary, the fake cpuinfo."""

    root: Path
    qemu: Path
    cpuinfo: Path


class EmulatedNamespace:
    """One holder process keeping the private namespaces of an aarch64 stand-in alive."""

    def __init__(self, spec: NamespaceSpec) -> None:
        self.spec = spec
        self._holder: subprocess.Popen[bytes] | None = None
        self._init_pid: int | None = None
        self._buffer = b""
        self._last_stderr = ""

    @property
    def init_pid(self) -> int:
        """Host pid of pid 1 of the namespace (what ``nsenter -t`` targets).

        Raises:
            RuntimeError: the namespace is not running.
        """
        if self._init_pid is None:
            raise RuntimeError("the aarch64 namespace is not running")
        return self._init_pid

    def start(self) -> EmulatedNamespace:
        """Start the holder and wait until the namespace is ready.

        Raises:
            RuntimeError: the holder failed (its message and stderr are included).
        """
        if self._holder is not None:
            return self
        argv = [sys.executable, "-I", namespace_holder.__file__, *map(str, self._spec_args())]
        self._holder = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            self._handshake(time.monotonic() + HOLDER_START_TIMEOUT_S)
        except Exception:
            self.stop()
            raise
        log.info("aarch64 namespace ready (pid 1 = host pid %d)", self._init_pid)
        return self

    def _spec_args(self) -> tuple[Path, Path, Path]:
        return self.spec.root, self.spec.qemu, self.spec.cpuinfo

    def _handshake(self, deadline: float) -> None:
        holder = self._holder
        assert holder is not None and holder.stdin is not None
        self._expect("unshared", deadline)
        for name in ("uid_map", "gid_map"):
            Path(f"/proc/{holder.pid}/{name}").write_text(ID_MAP, encoding="ascii")
        holder.stdin.write(b"mapped\n")
        holder.stdin.flush()
        while (line := self._read_line(deadline)) != "ready":
            if line.startswith("pid "):
                self._init_pid = int(line.split()[1])
            else:
                self._fail(line)

    def _expect(self, wanted: str, deadline: float) -> None:
        line = self._read_line(deadline)
        if line != wanted:
            self._fail(line)

    def _read_line(self, deadline: float) -> str:
        holder = self._holder
        assert holder is not None and holder.stdout is not None
        fd = holder.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0.0))
            if not ready:
                return "error: timed out waiting for the namespace holder"
            data = os.read(fd, 4096)
            if not data:
                return "error: the namespace holder exited"
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace").strip()

    def _fail(self, line: str) -> None:
        self.stop()
        stderr = ""
        if self._last_stderr:
            stderr = f"; stderr: {self._last_stderr.strip()[-800:]}"
        raise RuntimeError(f"aarch64 namespace setup failed: {line}{stderr}")

    def stop(self) -> None:
        """End the namespace (and every process in it); safe to call repeatedly."""
        holder, self._holder, self._init_pid = self._holder, None, None
        if holder is None:
            return
        if holder.stdin is not None:
            with contextlib.suppress(OSError):
                holder.stdin.close()  # EOF: pid 1 exits, the kernel kills the rest
        try:
            holder.wait(timeout=HOLDER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            holder.kill()  # pid 1 has PDEATHSIG=SIGKILL: it follows
            holder.wait()
        if holder.stderr is not None:
            self._last_stderr = holder.stderr.read().decode(errors="replace")
            holder.stderr.close()
        if holder.stdout is not None:
            holder.stdout.close()

    def enter_argv(self, uid: int, gid: int) -> list[str]:
        """argv prefix running a program inside the namespace, chrooted, as uid/gid.

        ``-r``/``-w`` without a directory take the root and cwd of pid 1,
        which chrooted into the device root; ``-S``/``-G`` also drop the
        supplementary groups. nsenter forks (a pid namespace takes effect for
        children only), waits, and returns the child's status.
        """
        nsenter = shutil.which("nsenter") or "nsenter"
        return [
            nsenter, "-t", str(self.init_pid), "-U", "-m", "-p", "-r", "-w",
            "-S", str(uid), "-G", str(gid), "--",
        ]  # fmt: skip
