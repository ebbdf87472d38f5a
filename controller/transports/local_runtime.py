"""Which Python runs this host's agent: devicelab's managed runtime, or the current one.

``DEVICELAB_LOCAL_RUNTIME`` chooses:

- ``managed`` (the default): the runtime for this host's architecture, built by
  :mod:`controller.device_runtime` exactly as a phone's (Debian's CPython and glibc,
  the pinned wheels of ``pins.py`` with onnxruntime-qnn for the simulated
  Snapdragons), built on first use, cached under ``DEVICELAB_HOME/runtimes`` and
  unpacked under ``DEVICELAB_HOME/runtimes/host/<id>``. What measures is then
  devicelab's pinned ONNX Runtime and LiteRT, whatever the user's environment holds
  (qai-hub-models 0.65 pins onnxruntime <= 1.22.1; devicelab's QNN EP needs >= 1.24).
- ``current``: this interpreter with the packages of its environment
  (``pip install 'devicelab[agent]'``). For developing devicelab itself: nothing
  is built, and the test suite's many agent starts cost what they did.

An unpack is never half used: it goes to ``<id>.partial``, is checked file by file
by the runtime's own Python, and is renamed to ``<id>`` only then; one process at
a time unpacks (a lock file), as a worker daemon and a CLI may start agents together.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

from controller import settings
from controller.device_runtime.arches import ARCHES
from controller.device_runtime.build import RuntimeBundle, build_runtime
from controller.device_runtime.launcher import LAUNCHER_RELATIVE, VERIFY_SOURCE, launcher_script
from controller.device_runtime.manifest import MANIFEST_NAME
from controller.errors import InternalError, UserError
from controller.transports.adb_runtime import DevicePython

log = logging.getLogger("devicelab.transport.local")

LOCAL_RUNTIME_ENV = "DEVICELAB_LOCAL_RUNTIME"
MODES = settings.setting(LOCAL_RUNTIME_ENV).choices
VERIFY_TIMEOUT_S = 300.0
HOST_SHELL = "/bin/sh"
# Set by a user's environment, they would point the runtime's Python at that environment's
# packages (a venv's site-packages holds its own onnxruntime): the launcher sets PYTHONHOME.
_FOREIGN_PYTHON_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONSTARTUP",
                       "PYTHONEXECUTABLE", "PYTHONPLATLIBDIR", "VIRTUAL_ENV")  # fmt: skip


def local_runtime_mode() -> str:
    """``managed`` or ``current``, from ``DEVICELAB_LOCAL_RUNTIME`` (default ``managed``).

    Raises:
        UserError: any other value.
    """
    return settings.choice(LOCAL_RUNTIME_ENV)


def host_python(mode: str | None = None) -> DevicePython:
    """The Python this host's agent starts on, building and unpacking the runtime if needed.

    Raises:
        UserError: the managed runtime is needed and cannot be built here (no
            apt-get, offline, an architecture devicelab builds no runtime for),
            naming what is missing and the ways around it.
    """
    mode = mode or local_runtime_mode()
    if mode == "current":
        return DevicePython(sys.executable, "current")
    arch = platform.machine()
    if arch not in ARCHES:
        raise UserError(
            f"[local] devicelab builds its runtime for {', '.join(ARCHES)}, not this {arch} "
            f"host; set {LOCAL_RUNTIME_ENV}=current to run the agent on this Python "
            "(pip install 'devicelab[agent]')"
        )
    bundle = _built_runtime(arch)
    final = settings.home_dir() / "runtimes" / "host" / bundle.runtime_id
    if not _present(final):
        with _unpack_lock(final.parent):
            if not _present(final):
                _unpack(bundle, final, arch)
                _prune(final)
    return DevicePython(
        str(final / LAUNCHER_RELATIVE), "managed", bundle.runtime_id, bundle.manifest
    )


def managed_qnn_versions(python: DevicePython) -> dict[str, str]:
    """onnxruntime-qnn's and its QNN SDK's versions in the managed runtime ``python``.

    Read from the unpacked package's ``build_and_package_info.py`` (three literal
    assignments) rather than by starting the runtime: the controller may have no
    onnxruntime-qnn of its own to ask. Empty when the runtime has none.
    """
    root = Path(python.command).parents[1]
    info = root / "lib/python3/dist-packages/onnxruntime_qnn/build_and_package_info.py"
    if python.source != "managed" or not info.is_file():
        return {}
    values = {}
    for node in ast.parse(info.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            values.update({t.id: str(node.value.value) for t in node.targets
                           if isinstance(t, ast.Name)})  # fmt: skip
    return {
        "onnxruntime_qnn": values.get("__version__", ""),
        "qnn_sdk": values.get("qnn_version", ""),
    }


def agent_environment(python: DevicePython, env: dict[str, str]) -> dict[str, str]:
    """``env`` for the agent on ``python``: the managed runtime sees nothing of this venv."""
    if python.source != "managed":
        return env
    return {k: v for k, v in env.items() if k not in _FOREIGN_PYTHON_ENV}


def _built_runtime(arch: str) -> RuntimeBundle:
    """The cached runtime archive, built first if absent; a UserError saying why it cannot be."""
    try:
        return build_runtime(arch, qnn=True)
    except (InternalError, UserError, OSError) as exc:
        raise UserError(
            f"[local] the agent runs from devicelab's managed {arch} runtime, which is not "
            f"in {settings.home_dir() / 'runtimes'} and could not be built: {exc}\n"
            "Building it needs, once: apt-get and dpkg-deb (a Debian or Ubuntu host), "
            "Debian's package mirror and PyPI (about 350 MB of downloads, 1-2 minutes). "
            f"Offline: run `devicelab bundle --arch {arch} --qnn` where those are reachable "
            "and copy that DEVICELAB_HOME's runtimes/ folder here (same devicelab version), "
            f"or set {LOCAL_RUNTIME_ENV}=current to run the agent on this Python "
            "(pip install 'devicelab[agent]')."
        ) from exc


def _present(final: Path) -> bool:
    return (final / LAUNCHER_RELATIVE).is_file() and (final / MANIFEST_NAME).is_file()


@contextlib.contextmanager
def _unpack_lock(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".unpack.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, even on a crash
        yield


def _unpack(bundle: RuntimeBundle, final: Path, arch: str) -> None:
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with tarfile.open(bundle.path) as tar:
        tar.extractall(partial, filter="data")  # our own archive; "data" keeps modes, no links out
    launcher = partial / LAUNCHER_RELATIVE
    launcher.write_text(launcher_script(HOST_SHELL, arch), encoding="utf-8")
    launcher.chmod(0o755)
    _verify(launcher, partial)
    _compile(launcher, partial)
    partial.rename(final)


def _verify(launcher: Path, root: Path) -> None:
    """Run the launcher as the agent will: every file there, the native imports load."""
    done = subprocess.run(
        [str(launcher), "-c", VERIFY_SOURCE, str(root)],
        capture_output=True, text=True, timeout=VERIFY_TIMEOUT_S,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    if "DEVICELAB_RUNTIME_OK" not in done.stdout:
        raise InternalError(
            f"[local] the unpacked runtime {root} failed its check (exit {done.returncode}): "
            f"{(done.stdout + done.stderr).strip()[-500:]}"
        )


def _compile(launcher: Path, root: Path) -> None:
    """Write every module's ``.pyc`` now, with the runtime's own Python.

    The archive carries none (``build.py`` says why), and a Python started with
    ``PYTHONDONTWRITEBYTECODE`` (set in some users' and CI's environments) would
    otherwise compile what it imports at every start: measured here, 0.9-1.3 s
    instead of 0.4 s to import onnxruntime, in every job's child process. Takes
    ~4 s once. The ``.pyc`` check their sources' mtime and size, not their path,
    so they stay valid when the folder is renamed into use.
    """
    done = subprocess.run(
        [str(launcher), "-m", "compileall", "-q", "-j", "0", str(root / "lib")],
        capture_output=True, text=True, timeout=VERIFY_TIMEOUT_S,
    )  # fmt: skip
    if done.returncode != 0:  # a module that does not compile is still importable as source
        log.warning("[local] compiling the runtime's modules: %s", done.stdout.strip()[-300:])


def _prune(keep: Path) -> None:
    """Remove the other unpacked runtimes (an older devicelab's): one is in use at a time."""
    for path in keep.parent.iterdir():
        if path.is_dir() and path != keep:
            shutil.rmtree(path, ignore_errors=True)
