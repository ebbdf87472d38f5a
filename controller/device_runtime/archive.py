"""A deterministic ``.tar.gz``: the same folder always gives the same bytes.

Entries are sorted, owned by 0:0 with no names, dated 0, modes reduced to
0755/0644 (so the shell user can run what it unpacks), and gzip's own header
carries no name and no time.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path

_GZIP_LEVEL = 9


def _normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    if info.isdir() or info.mode & 0o111:
        info.mode = 0o755
    else:
        info.mode = 0o644
    return info


def _walk_sorted(root: Path) -> list[Path]:
    paths = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted([*dirs, *names]):
            paths.append(Path(folder) / name)
    return sorted(paths, key=lambda p: p.relative_to(root).as_posix())


def write_archive(root: Path, out: Path) -> None:
    """Write ``root``'s contents (not ``root`` itself) to ``out`` as a deterministic .tar.gz."""
    with (
        out.open("wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", compresslevel=_GZIP_LEVEL, fileobj=raw, mtime=0
        ) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for path in _walk_sorted(root):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(root).as_posix())
            _normalize(info)
            if info.isfile():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
