"""The agent as one file to push: a zip of ``agent/``, ``contract/`` and ``protos/`` with a
``__main__``.

``python3 agent-<hash>.zip serve ...`` runs it (Python puts the zip on
``sys.path``). The zip is deterministic (sorted entries, fixed timestamps), so
its sha256 names the agent's code exactly: a device that already has this
bundle is not pushed again, and a changed agent gets a new name.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from functools import cache
from pathlib import Path

from controller.settings import home_dir

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "contract", "protos")
_FIXED_DATE = (2020, 1, 1, 0, 0, 0)
# The guard matters: multiprocessing's spawn re-imports the main module in every
# job's child process, and must not start a second server there.
AGENT_MAIN = b"""import sys

from agent.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
"""


def _entries() -> list[tuple[str, bytes]]:
    entries = [("__main__.py", AGENT_MAIN)]
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            entries.append((path.relative_to(ROOT).as_posix(), path.read_bytes()))
    return entries


def bundle_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in _entries():
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


@cache
def agent_bundle() -> Path:
    """Path of the bundle for the agent code in this checkout (built once per process).

    Example:
        agent_bundle().name   # 'agent-3f2a9c1d0b7e4a55.zip'
    """
    data = bundle_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = home_dir() / "bundles"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"agent-{digest}.zip"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
