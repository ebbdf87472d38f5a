"""Content-addressed files: ``<root>/<sha[:2]>/<sha256>``, never seen half-written.

A file is copied to a temporary name in its final directory (same file system,
so the rename is atomic), fsynced, checked against the hash computed before the
copy, and only then renamed into place. A crash or an exception mid-copy leaves
at most a ``.tmp`` file that no lookup ever returns; ``sweep_temp`` removes old ones.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, cast

from controller.errors import InternalError, UserError

_CHUNK_BYTES = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TEMP_GLOB = "*/.*.tmp"


class ArtifactStore:
    """Immutable blobs named by their SHA-256.

    Example:
        artifacts = ArtifactStore(Path("/tmp/lab/artifacts"))
        sha = artifacts.put(b"hello")
        artifacts.path(sha).read_bytes()   # b"hello"
        artifacts.put(b"hello") == sha     # True, and nothing is written again
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, source: Path | bytes) -> str:
        """Store ``source`` (a file or bytes) and return its sha256; idempotent."""
        if isinstance(source, bytes):
            sha = hashlib.sha256(source).hexdigest()
        else:
            sha = _hash_file(source)
        final = self._location(sha)
        if not final.exists():
            self._write(final, sha, source)
        return sha

    def put_chunks(self, sha256: str, chunks: Iterable[bytes]) -> Path:
        """Store the bytes ``chunks`` yields as ``sha256`` (fetched from elsewhere: the
        hash is checked before the file becomes visible); returns its path."""
        final = self._location(sha256)
        if not final.exists():
            self._write(final, sha256, _ChunkReader(chunks))
        return final

    def path(self, sha256: str) -> Path:
        """Where the artifact lives; ``UserError`` if it is not stored."""
        final = self._location(sha256)
        if not final.is_file():
            raise UserError(f"artifact {sha256} is not in the store at {self.root}")
        return final

    def has(self, sha256: str) -> bool:
        return self._location(sha256).is_file()

    def sweep_temp(self, older_than_s: float = 24 * 3600) -> int:
        """Delete temporary files left by crashed writers; returns how many."""
        cutoff = time.time() - older_than_s
        removed = 0
        for temp in self.root.glob(_TEMP_GLOB):
            # A young temp file may belong to a writer that is still copying.
            if temp.stat().st_mtime < cutoff:
                temp.unlink(missing_ok=True)
                removed += 1
        return removed

    def _location(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise UserError(f"{sha256!r} is not a sha256 (64 lowercase hex digits)")
        return self.root / sha256[:2] / sha256

    def _write(self, final: Path, sha: str, source: Path | bytes | _ChunkReader) -> None:
        final.parent.mkdir(exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{sha}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, _open_source(source) as src:
                copied = _copy(src, out)
                out.flush()
                os.fsync(out.fileno())
            if copied != sha and isinstance(source, _ChunkReader):
                raise InternalError(f"artifact {sha}: the bytes fetched do not hash to it")
            if copied != sha:
                raise InternalError(f"{source!r} changed while it was being stored; try again")
            os.replace(temp_name, final)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)


class _ChunkReader(io.RawIOBase):
    """An iterable of byte strings read as a file (what ``_copy`` reads from)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return next(self._chunks, b"")


def _open_source(source: Path | bytes | _ChunkReader) -> BinaryIO:
    if isinstance(source, _ChunkReader):
        return cast(BinaryIO, source)
    if isinstance(source, bytes):
        return io.BytesIO(source)
    return source.open("rb")


def _copy(src: BinaryIO, dst: BinaryIO) -> str:
    """Copy ``src`` to ``dst``; return the sha256 of what was copied."""
    digest = hashlib.sha256()
    while chunk := src.read(_CHUNK_BYTES):
        digest.update(chunk)
        dst.write(chunk)
    return digest.hexdigest()


def _hash_file(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError as exc:
        raise UserError(f"{path}: file not found") from exc
    except IsADirectoryError as exc:
        raise UserError(f"{path}: is a directory, not a file") from exc


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
