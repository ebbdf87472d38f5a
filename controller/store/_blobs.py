"""Artifacts in the database, so every host reaches them (PostgreSQL stores only).

An artifact is the same content-addressed blob as under ``_artifacts``: named by
its sha256, stored once however often it is put (deduplicated by name), split
into ``CHUNK_BYTES`` rows of ``artifact_chunks`` so no single value nears
PostgreSQL's 1 GB limit and neither side holds a whole model in memory. The
``artifacts`` row is written last, in the same transaction: a reader that finds
it finds every chunk. Each host keeps what it read in its own ``ArtifactStore``
(the host-local cache), where the hash is checked again before use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from controller.errors import InternalError
from controller.store._sql import Connection

#: 1 MiB: large enough that a 100 MB model is 100 rows, small enough to stream.
CHUNK_BYTES = 1 << 20


def has(conn: Connection, sha256: str) -> bool:
    row = conn.execute("SELECT 1 AS one FROM artifacts WHERE sha256 = ?", (sha256,)).fetchone()
    return row is not None


def put(conn: Connection, now: float, sha256: str, source: Path) -> bool:
    """Copy the file ``source`` (whose hash is ``sha256``) into the database, unless
    it is there already; returns whether it wrote. Call inside a write transaction."""
    if has(conn, sha256):
        return False
    size = 0
    chunks = 0
    with source.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            # Two hosts putting the same bytes at once write the same rows: either wins.
            conn.execute(
                "INSERT INTO artifact_chunks (sha256, seq, data) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (sha256, chunks, chunk),
            )
            size += len(chunk)
            chunks += 1
    conn.execute(
        "INSERT INTO artifacts (sha256, size_bytes, chunks, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (sha256, size, chunks, now),
    )
    return True


def chunk_count(conn: Connection, sha256: str) -> int | None:
    """How many chunks the artifact has; None if the database does not hold it."""
    row = conn.execute("SELECT chunks FROM artifacts WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else int(row["chunks"])


def chunk(conn: Connection, sha256: str, seq: int) -> bytes:
    """One chunk's bytes (chunks are immutable: any transaction may read any one)."""
    row = conn.execute(
        "SELECT data FROM artifact_chunks WHERE sha256 = ? AND seq = ?", (sha256, seq)
    ).fetchone()
    if row is None:
        raise InternalError(f"artifact {sha256}: chunk {seq} is missing from the database")
    return bytes(row["data"])


def iter_chunks(
    read_chunk: Callable[[str, int], bytes], sha256: str, count: int
) -> Iterator[bytes]:
    """The artifact's bytes in order, one ``read_chunk`` (a short transaction) per chunk."""
    for seq in range(count):
        yield read_chunk(sha256, seq)
