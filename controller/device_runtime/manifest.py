"""The runtime's manifest: what it is, and the size of every file, for the device to verify.

The device checks the pushed archive's sha256 before unpacking (corruption in
transit) and, after unpacking, every file's size with the runtime's own Python
(``agent/runtime_check.py``: a truncated unpack, a full disk), before the
folder is renamed into use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MANIFEST_NAME = "devicelab-runtime.json"


def file_sizes(root: Path) -> dict[str, int]:
    """Relative path -> size of every regular file under ``root`` (the manifest excluded)."""
    sizes = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if relative != MANIFEST_NAME and not path.is_symlink():
                sizes[relative] = path.stat().st_size
    return dict(sorted(sizes.items()))


def build_manifest(root: Path, arch: str, qnn: bool, versions: dict[str, Any]) -> dict[str, Any]:
    """Write ``MANIFEST_NAME`` into ``root`` and return its summary (without the file list)."""
    sizes = file_sizes(root)
    summary: dict[str, Any] = {
        "arch": arch,
        "qnn": qnn,
        **versions,
        "files": len(sizes),
        "unpacked_bytes": sum(sizes.values()),
    }
    document = {**summary, "sizes": sizes}
    (root / MANIFEST_NAME).write_text(json.dumps(document, indent=0), encoding="utf-8")
    return summary
