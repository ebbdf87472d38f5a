"""The agent's artifact store: streamed to disk, any file name, nothing from outside."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.artifacts import ArtifactCache, UploadChunk
from agent.errors import ArtifactNotFoundError

CHUNK = 1 << 20


def _store(tmp_path: Path) -> ArtifactCache:
    return ArtifactCache(tmp_path / "artifacts", tmp_path / "incoming")


def test_an_upload_is_written_as_it_streams_not_held_in_memory(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data = os.urandom(CHUNK)
    count = 24
    sha256 = hashlib.sha256(data * count).hexdigest()
    written_when_asked: list[int] = []

    def chunks() -> Iterator[UploadChunk]:
        for _ in range(count):
            written_when_asked.append(sum(p.stat().st_size for p in store.tmp.iterdir()))
            yield UploadChunk(sha256, "big.onnx", data)

    path = store.put(chunks())
    assert path.stat().st_size == count * CHUNK
    # Each chunk reached the disk before the next one was asked for.
    assert written_when_asked == [i * CHUNK for i in range(count)]


def test_a_model_whose_name_starts_with_a_dot_is_found(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data = b"\x08\x07 model bytes"
    sha256 = hashlib.sha256(data).hexdigest()
    stored = store.put([UploadChunk(sha256, ".hidden_model.onnx", data)])
    assert store.require(sha256) == stored and stored.name == ".hidden_model.onnx"


def test_a_symlink_planted_in_incoming_is_refused_and_its_target_untouched(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    secret = tmp_path / "elsewhere.txt"
    secret.write_bytes(b"not the agent's")
    (store.incoming / "evil.part").symlink_to(secret)
    sha256 = hashlib.sha256(secret.read_bytes()).hexdigest()
    with pytest.raises(ArtifactNotFoundError, match="not a regular file"):
        store.adopt("evil.part", sha256, "model.onnx")
    assert store.path_of(sha256) is None
    assert secret.read_bytes() == b"not the agent's"
    assert not (store.incoming / "evil.part").is_symlink()


def test_a_corrupt_upload_leaves_no_file_behind(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(Exception, match="corrupt"):
        store.put([UploadChunk("0" * 64, "m.onnx", b"abc")])
    assert list(store.tmp.iterdir()) == [] and store.path_of("0" * 64) is None
