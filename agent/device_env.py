"""Make the agent's process at home where the device gives it no home: Android's shell user.

``adb shell`` on Android runs as uid 2000 with HOME unset, no ``/tmp``, no
passwd entry and no ``/dev/shm``. Python copes with most of it (``expanduser``
leaves ``~`` alone when the passwd lookup fails), but ``tempfile`` raises when
no candidate folder is writable. The agent therefore points TMPDIR and HOME
into its own work folder when they are missing or unusable, before anything
creates a temporary file; its job processes inherit them. Nothing else in the
agent looks up users, and jobs talk to it over a ``Pipe`` (a socketpair), never
over POSIX semaphores or shared memory, which need ``/dev/shm``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _writable_dir(path: str | None) -> bool:
    return bool(path) and os.path.isdir(str(path)) and os.access(str(path), os.W_OK | os.X_OK)


def prepare_environment(workdir: Path, system_tmp: str = "/tmp") -> dict[str, str]:
    """Point TMPDIR / HOME into ``workdir`` where the device has none usable; return changes."""
    changed: dict[str, str] = {}
    if not _writable_dir(os.environ.get("TMPDIR")) and not _writable_dir(system_tmp):
        changed["TMPDIR"] = str(workdir / "tmp")
    if not _writable_dir(os.environ.get("HOME")):
        changed["HOME"] = str(workdir / "home")
    for name, value in changed.items():
        Path(value).mkdir(parents=True, exist_ok=True)
        os.environ[name] = value
    if "TMPDIR" in changed:
        tempfile.tempdir = None  # recomputed from TMPDIR on next use
    return changed
