"""Which Python starts the agent on an adb device, deploying the bundled runtime if needed.

Decided once per connection, from :mod:`controller.transports.adb_probe`:
1. ``DEVICELAB_DEVICE_PYTHON`` set: that interpreter, as the user said;
2. the device has a Python that imports the agent's dependencies (a prepared
   Linux board, the x86_64 stand-in): that one;
3. otherwise (every stock Android): the device runtime for its architecture
   (``controller/device_runtime``), pushed once and unpacked under
   ``ROOT/runtime/<id>``.

An interrupted push or unpack never leaves a half runtime in use: the archive
arrives as ``<id>.tar.gz.part``, is checked against its sha256, unpacked into
``<id>.partial``, checked file by file by its own Python, and only then renamed
to ``<id>`` — the one name the launcher is ever started from. Leftovers of an
interrupted deploy are removed by the next one.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from controller.device_runtime.build import SUPPORTED_ARCHES, RuntimeBundle, build_runtime
from controller.device_runtime.launcher import LAUNCHER_RELATIVE, VERIFY_SOURCE, launcher_script
from controller.errors import InternalError, UserError
from controller.transports.adb_probe import DeviceFacts, free_bytes

log = logging.getLogger("devicelab.transport.adb")

UNPACK_TIMEOUT_S = 600.0  # 190 MB through toybox tar; minutes under qemu-user in the tests
VERIFY_TIMEOUT_S = 300.0
DEPLOY_LOCK_TIMEOUT_S = 900.0
_STALE_LOCK_MIN = 20
_LOCK_POLL_S = 1.0
_SPACE_MARGIN = 1.1  # .pyc written on first use, and the agent's own files
Shell = Callable[[str, float], str]
Push = Callable[[str, str], None]  # (host path, device path)


@dataclass(frozen=True)
class DevicePython:
    """How the agent's Python is started on one device."""

    command: str  # a path or name the device's shell runs
    source: str  # "configured", "device" or "runtime"
    runtime_id: str = ""
    runtime: dict[str, Any] | None = None  # the runtime's manifest summary (versions)
    pushed_bytes: int = 0  # what this deploy pushed (0 when the runtime was there)

    def as_dict(self) -> dict[str, Any]:
        """What a result records under ``devicelab.environment.python``."""
        summary: dict[str, Any] = {"command": self.command, "source": self.source}
        if self.runtime is not None:
            summary["runtime_id"] = self.runtime_id
            summary["runtime"] = {k: self.runtime[k] for k in ("arch", "qnn", "python", "wheels")}
        return summary


def choose_python(
    facts: DeviceFacts, configured: str | None, serial: str, qnn: bool = False
) -> DevicePython | None:
    """The device's own Python when it can run the agent; None when the runtime is needed.

    ``qnn`` (``DEVICELAB_DEVICE_RUNTIME_QNN``) asks for the runtime with
    onnxruntime-qnn even where the device has a Python of its own.

    Raises:
        UserError: the device needs the runtime but is of an architecture or lacks
            a tool it cannot be deployed on, naming what is missing.
    """
    if configured:
        return DevicePython(configured, "configured")
    if facts.usable_python and not qnn:
        return DevicePython(facts.usable_python, "device")
    if facts.arch not in SUPPORTED_ARCHES:
        raise UserError(
            f"[{serial}] has no Python that can run the agent and devicelab builds its runtime "
            f"for {', '.join(SUPPORTED_ARCHES)} only (device: {facts.abi or facts.arch or '?'}); "
            "set DEVICELAB_DEVICE_PYTHON to a Python 3.11+ with the agent's dependencies"
        )
    if facts.missing_tools:
        raise UserError(
            f"[{serial}] the device runtime is unpacked with the device's own tools; missing: "
            f"{', '.join(facts.missing_tools)}"
        )
    return None


class RuntimeDeployer:
    """Puts one runtime on one device (see the module docstring)."""

    def __init__(self, serial: str, root: str, shell: Shell, push: Push) -> None:
        self.serial = serial
        self.base = f"{root}/runtime"
        self._shell = shell
        self._push = push

    def ensure(self, facts: DeviceFacts, qnn: bool = False) -> DevicePython:
        """The runtime's launcher on the device, deploying it first if absent.

        One deploy at a time per device (a worker and a ``devicelab doctor`` may
        both find it missing): ``mkdir`` of a lock folder is atomic on every
        shell; the one that waits finds the runtime in place and pushes nothing.
        """
        bundle = build_runtime(facts.arch, qnn=qnn)
        final = f"{self.base}/{bundle.runtime_id}"
        pushed = 0
        if not self._present(final):
            with self._deploy_lock():
                if not self._present(final):
                    pushed = self._deploy(bundle, final, facts)
        return DevicePython(
            f"{final}/{LAUNCHER_RELATIVE}", "runtime", bundle.runtime_id, bundle.manifest, pushed
        )

    @contextlib.contextmanager
    def _deploy_lock(self) -> Iterator[None]:
        lock = f"{self.base}/.deploy.lock"
        deadline = time.monotonic() + DEPLOY_LOCK_TIMEOUT_S
        while "locked" not in self._shell(
            f"mkdir -p {self.base} && mkdir {lock} 2>/dev/null && echo locked", 30.0
        ):
            # A deploy killed mid-way leaves its lock: it is stale after the longest deploy.
            self._shell(
                f"find {lock} -maxdepth 0 -mmin +{_STALE_LOCK_MIN} -exec rm -rf {{}} \\;", 30.0
            )
            if time.monotonic() > deadline:
                raise InternalError(
                    f"[{self.serial}] another controller has been deploying the runtime for "
                    f"{DEPLOY_LOCK_TIMEOUT_S:.0f} s ({lock})"
                )
            time.sleep(_LOCK_POLL_S)
        try:
            yield
        finally:
            self._shell(f"rm -rf {lock}", 30.0)

    def _present(self, final: str) -> bool:
        check = f"[ -x {final}/{LAUNCHER_RELATIVE} ] && [ -f {final}/devicelab-runtime.json ]"
        return "present" in self._shell(f"{check} && echo present", 30.0)

    def _deploy(self, bundle: RuntimeBundle, final: str, facts: DeviceFacts) -> int:
        archive = f"{final}.tar.gz.part"
        partial = f"{final}.partial"
        self._shell(
            f"mkdir -p {self.base} && rm -rf {self.base}/*.partial {self.base}/*.part", 120.0
        )
        self._check_space(bundle)
        started = time.monotonic()
        log.info("[%s] pushing the device runtime %s (%.1f MB)", self.serial,
                 bundle.runtime_id, bundle.size / 1e6)  # fmt: skip
        self._push(str(bundle.path), archive)
        log.info("[%s] runtime pushed in %.1f s", self.serial, time.monotonic() - started)
        self._check_archive(archive, bundle.sha256)
        self._unpack(archive, partial)
        self._write_launcher(partial, facts.shell, facts.arch)
        self._verify(partial)
        self._shell(f"mv {partial} {final}", 60.0)
        return bundle.size

    def _check_space(self, bundle: RuntimeBundle) -> None:
        """Refuse before pushing when the archive and its unpacked files cannot both fit."""
        free = free_bytes(lambda command: self._shell(command, 30.0), self.base)
        needed = bundle.size + int(bundle.manifest["unpacked_bytes"])
        if free is not None and free < needed * _SPACE_MARGIN:
            raise UserError(
                f"[{self.serial}] {self.base} has {free / 1e6:.0f} MB free; the device runtime "
                f"needs {needed * _SPACE_MARGIN / 1e6:.0f} MB (free space on the device, or set "
                "DEVICELAB_DEVICE_ROOT to a larger filesystem)"
            )

    def prune(self, keep_id: str) -> None:
        """Remove every other runtime: called once an agent runs on ``keep_id``."""
        self._shell(
            f'for d in {self.base}/*; do [ "${{d##*/}}" = {keep_id} ] || rm -rf "$d"; done',
            120.0,
        )

    def _check_archive(self, archive: str, sha256: str) -> None:
        out = self._shell(f"sha256sum {archive}", 300.0).split()
        if not out or out[0] != sha256:
            self._shell(f"rm -f {archive}", 30.0)
            raise InternalError(
                f"[{self.serial}] the pushed runtime is corrupt "
                f"(sha256 {out[:1]} != {sha256[:16]}…)"
            )

    def _unpack(self, archive: str, partial: str) -> None:
        out = self._shell(
            f"mkdir -p {partial} && tar -xzf {archive} -C {partial} && echo unpacked;"
            f" rm -f {archive}",
            UNPACK_TIMEOUT_S,
        )
        if "unpacked" not in out:
            raise InternalError(
                f"[{self.serial}] unpacking the runtime failed (disk full?): {out.strip()[-300:]}"
            )

    def _write_launcher(self, partial: str, shell_path: str, arch: str) -> None:
        launcher = f"{partial}/{LAUNCHER_RELATIVE}"
        text = shlex.quote(launcher_script(shell_path, arch))
        self._shell(f"printf '%s' {text} > {launcher} && chmod 755 {launcher}", 30.0)

    def _verify(self, partial: str) -> None:
        """Run the launcher as the agent will: it, the loader and Python must all work."""
        command = (
            f"PYTHONDONTWRITEBYTECODE=1 {partial}/{LAUNCHER_RELATIVE} "
            f"-c {shlex.quote(VERIFY_SOURCE)} {partial} 2>&1"
        )
        out = self._shell(command, VERIFY_TIMEOUT_S)
        if "DEVICELAB_RUNTIME_OK" not in out:
            raise InternalError(
                f"[{self.serial}] the unpacked runtime failed its check: {out.strip()[-500:]}"
            )
