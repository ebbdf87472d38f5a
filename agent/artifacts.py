"""The device's content-addressed cache of uploaded models (``ArtifactCache``).

An artifact lives at ``<root>/<sha256>/<filename>``; the sha256 is the identity.
The stored name is only the first upload's and means nothing to a job: the job
names its model's type (``ProfileRequest.model_type``, or the suffix of the name it
declares), and the runtimes load the stored file as that type, whatever its name.
The controller's ``controller/store/_artifacts.py`` is the other side's store of
record; this is a cache a phone may lose. Uploads stream, chunk by chunk,
into a temporary file under ``<root>/.tmp`` (never all in memory: a phone has
little), are hashed while written, and are renamed into place only when the
hash matches, so a broken upload never leaves a half file behind.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.errors import ArtifactNotFoundError, InvalidModelError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class UploadChunk:
    sha256: str
    filename: str
    data: bytes


class ArtifactCache:
    """Uploaded artifacts on this device, by sha256 (see the module docstring)."""

    def __init__(self, root: Path, incoming: Path) -> None:
        self.root = root
        self.incoming = incoming
        self.tmp = root / ".tmp"  # not a sha256: never taken for an artifact
        for folder in (self.root, self.incoming, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)

    def adopt(self, incoming_name: str, sha256: str, filename: str) -> Path:
        """Move a file pushed into ``incoming/`` into the store after checking its hash.

        A corrupted push is deleted and reported; nothing half-written is kept.
        """
        source = self.incoming / Path(incoming_name).name  # no path tricks out of incoming/
        try:
            # O_NOFOLLOW: a symlink planted in incoming/ must not pull in a file from elsewhere.
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            source.unlink(missing_ok=True)
            raise ArtifactNotFoundError(
                f"pushed file {incoming_name} is not a regular file in {self.incoming}"
            ) from exc
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ArtifactNotFoundError(f"pushed file {incoming_name} is not a regular file")
            chunks = iter(lambda: handle.read(1 << 20), b"")
            stream = (UploadChunk(sha256, filename, data) for data in chunks)
            try:
                return self.put(stream)
            finally:
                source.unlink(missing_ok=True)

    def path_of(self, sha256: str) -> Path | None:
        """The stored file for ``sha256``, or None when absent."""
        if not _SHA256.match(sha256):
            return None
        folder = self.root / sha256
        if not folder.is_dir():
            return None
        # ".upload-*" are temporary files of agents before uploads moved to .tmp/.
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".upload-")]
        return files[0] if files else None

    def require(self, sha256: str) -> Path:
        """The stored file for ``sha256``.

        Raises:
            ArtifactNotFoundError: the artifact is not on this device.
        """
        path = self.path_of(sha256)
        if path is None:
            raise ArtifactNotFoundError(f"artifact {sha256} is not on this device; upload it first")
        return path

    def put(self, chunks: Iterable[UploadChunk]) -> Path:
        """Store a streamed upload; the first chunk names sha256 and filename."""
        iterator = iter(chunks)
        first = next(iterator, None)
        if first is None:
            raise InvalidModelError("empty artifact upload")
        sha256, filename = first.sha256.lower(), Path(first.filename).name
        if not _SHA256.match(sha256) or not filename:
            raise InvalidModelError(
                f"bad artifact identity sha256={sha256!r} filename={filename!r}"
            )
        folder = self.root / sha256
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in itertools.chain([first], iterator):
                    digest.update(chunk.data)
                    out.write(chunk.data)
            if digest.hexdigest() != sha256:
                raise InvalidModelError(
                    f"upload of {filename} is corrupt: sha256 {digest.hexdigest()} != {sha256}"
                )
            folder.mkdir(exist_ok=True)
            final = folder / filename
            os.replace(tmp, final)
            return final
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
