"""The compression methods of adb's sync v2 (``SND2``/``RCV2``): flags, features, codecs.

One source for the protocol's facts, used by our push (``adb_sync``) and by the
phone stand-in's sync service. Per AOSP ``packages/modules/adb``:
``file_sync_protocol.h`` (``kSyncFlagBrotli = 1``, ``kSyncFlagLZ4 = 2``,
``kSyncFlagZstd = 4``, ``kSyncFlagDryRun = 0x80000000``), ``transport.cpp``
(the ``sendrecv_v2*`` feature names) and ``compression_utils.h`` (one brotli
stream at quality 1, one LZ4 *frame*, one zstd frame at level 1, each spanning
the whole file and cut into ``DATA`` chunks anywhere).

Codecs come from PyPI's ``zstandard``, ``lz4`` and ``brotli`` (C libraries; they
release the GIL while they work).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from controller.errors import UserError

FEATURE_SENDRECV_V2 = "sendrecv_v2"
FEATURE_DRY_RUN_SEND = "sendrecv_v2_dry_run_send"
FLAG_DRY_RUN = 0x8000_0000
# What adb reads for its default (``ADB_COMPRESSION``, client/commandline.cpp), so a
# user who turned compression off for ``adb push`` has it off for our pushes too.
COMPRESSION_ENV = "ADB_COMPRESSION"
# worth_compressing(): eight 32 KiB samples spread over the file; compression must save
# at least 5 % of them. Random bytes (encrypted or already compressed weights) save
# nothing, and compressing them only costs CPU on both ends (bench_push.py).
_SAMPLES = 8
_SAMPLE_BYTES = 32 * 1024
_MIN_SAVING = 0.05


class CompressionError(Exception):
    """A compressed stream is corrupt, truncated, or followed by extra bytes."""


class Encoder(Protocol):
    """Streaming compressor: feed blocks, then ``finish`` once."""

    def compress(self, data: bytes | memoryview) -> bytes:
        """Compress a block; may return nothing until enough input arrived."""

    def finish(self) -> bytes:
        """End the stream and return its last bytes."""


class Decoder(Protocol):
    """Streaming decompressor for exactly one stream."""

    def decompress(self, data: bytes) -> bytes:
        """Decompress a chunk (raises CompressionError on corrupt or extra input)."""

    def finish(self) -> None:
        """Raise CompressionError unless the stream ended exactly here."""


@dataclass(frozen=True)
class Method:
    """One compression method: its name (adb's ``-z`` word), flag, feature and codec."""

    name: str
    flag: int
    feature: str
    new_encoder: Callable[[], Encoder]
    new_decoder: Callable[[], Decoder]


class _ZstdEncoder:
    def __init__(self) -> None:
        import zstandard

        # Level 1, as adb and adbd use: the same bytes on the wire as `adb push`.
        # threads=-1: zstd's own workers, one per core, compress while our thread sends
        # (the output is still the one frame adbd's ZSTD_decompressStream reads).
        self._stream = zstandard.ZstdCompressor(level=1, threads=-1).compressobj()

    def compress(self, data: bytes | memoryview) -> bytes:
        return self._stream.compress(data)

    def finish(self) -> bytes:
        return self._stream.flush()


class _Lz4Encoder:
    def __init__(self) -> None:
        import lz4.frame

        self._stream = lz4.frame.LZ4FrameCompressor()
        self._header: bytes | None = self._stream.begin()

    def compress(self, data: bytes | memoryview) -> bytes:
        out = self._stream.compress(data)
        if self._header is not None:
            out, self._header = self._header + out, None
        return out

    def finish(self) -> bytes:
        return (self._header or b"") + self._stream.flush()


class _BrotliEncoder:
    def __init__(self) -> None:
        import brotli

        self._stream = brotli.Compressor(quality=1)  # adbd's and adb's quality

    def compress(self, data: bytes | memoryview) -> bytes:
        return self._stream.process(bytes(data))

    def finish(self) -> bytes:
        return self._stream.finish()


class _FrameDecoder:
    """zstd and LZ4 frames: one frame, nothing after it (as adbd's decoders demand)."""

    def __init__(self, stream: object, errors: tuple[type[Exception], ...]) -> None:
        self._stream = stream
        self._errors = errors
        self._ended = False

    def decompress(self, data: bytes) -> bytes:
        if self._ended and data:
            raise CompressionError("data after the end of the compressed stream")
        try:
            out: bytes = self._stream.decompress(data)  # type: ignore[attr-defined]
        except self._errors as exc:
            raise CompressionError(f"corrupt compressed stream: {exc}") from exc
        self._ended = bool(self._stream.eof)  # type: ignore[attr-defined]
        if self._ended and getattr(self._stream, "unused_data", None):
            raise CompressionError("data after the end of the compressed stream")
        return out

    def finish(self) -> None:
        if not self._ended:
            raise CompressionError("the compressed stream ended early (truncated)")


def _zstd_decoder() -> Decoder:
    import zstandard

    return _FrameDecoder(zstandard.ZstdDecompressor().decompressobj(), (zstandard.ZstdError,))


def _lz4_decoder() -> Decoder:
    import lz4.frame

    return _FrameDecoder(lz4.frame.LZ4FrameDecompressor(), (RuntimeError,))


class _BrotliDecoder:
    def __init__(self) -> None:
        import brotli

        self._stream = brotli.Decompressor()
        self._error = brotli.error

    def decompress(self, data: bytes) -> bytes:
        if self._stream.is_finished() and data:
            raise CompressionError("data after the end of the compressed stream")
        try:
            return bytes(self._stream.process(data))
        except self._error as exc:
            raise CompressionError(f"corrupt compressed stream: {exc}") from exc

    def finish(self) -> None:
        if not self._stream.is_finished():
            raise CompressionError("the compressed stream ended early (truncated)")


# adb's preference when told "any" (SyncConnection::ResolveCompressionType): zstd, lz4, brotli.
METHODS: tuple[Method, ...] = (
    Method("zstd", 4, "sendrecv_v2_zstd", _ZstdEncoder, _zstd_decoder),
    Method("lz4", 2, "sendrecv_v2_lz4", _Lz4Encoder, _lz4_decoder),
    Method("brotli", 1, "sendrecv_v2_brotli", _BrotliEncoder, _BrotliDecoder),
)
COMPRESSION_CHOICES = ("any", "none", *(method.name for method in METHODS))


def method_for_flags(flags: int) -> Method | None:
    """The one method named in a ``SND2``/``RCV2`` flags word (None: uncompressed).

    Raises:
        CompressionError: more than one method flag, or an unknown flag (adbd refuses both).
    """
    named = [method for method in METHODS if flags & method.flag]
    if len(named) > 1:
        raise CompressionError(f"multiple compression flags received: {flags}")
    unknown = flags & ~(FLAG_DRY_RUN | sum(method.flag for method in METHODS))
    if unknown:
        raise CompressionError(f"unknown flags: {flags}")
    return named[0] if named else None


def resolve_word(requested: str | None) -> str:
    """adb's compression word for a request; None reads ``$ADB_COMPRESSION`` (unset: any).

    Raises:
        UserError: an unknown word (naming the variable when it came from there).
    """
    word = requested if requested is not None else os.environ.get(COMPRESSION_ENV, "any")
    word = {"0": "none", "1": "any"}.get(word, word)  # adb's numbers for the variable
    if word not in COMPRESSION_CHOICES:
        source = "compression" if requested is not None else f"${COMPRESSION_ENV}"
        allowed = ", ".join(("0", "1", *COMPRESSION_CHOICES))
        raise UserError(f"{source}={word!r}: use one of {allowed}, as for adb push")
    return word


def choose_method(requested: str | None, features: Iterable[str]) -> Method | None:
    """The method a push uses: None means uncompressed.

    ``requested`` is adb's word (``any``/``none``/``zstd``/``lz4``/``brotli``); None
    reads ``$ADB_COMPRESSION`` like ``adb push`` does (unset: ``any``). ``any`` picks the
    first of zstd, lz4, brotli the device offers; a named method the device lacks
    falls back to none, since the push must still work on an older phone.

    Raises:
        UserError: an unknown word.
    """
    word = resolve_word(requested)
    offered = set(features)
    if word == "none" or FEATURE_SENDRECV_V2 not in offered:
        return None
    for method in METHODS:
        if method.feature in offered and word in ("any", method.name):
            return method
    return None


def worth_compressing(path: Path, method: Method) -> bool:
    """Whether ``method`` shrinks samples of the file by at least 5 % (small files: yes).

    ``adb push`` compresses whatever the file holds; skipping a file that does not
    compress sends the same bytes without the encoder's and the device's decoder's work.
    """
    size = path.stat().st_size
    if size <= _SAMPLES * _SAMPLE_BYTES:
        return True
    encoder = method.new_encoder()
    step = (size - _SAMPLE_BYTES) // (_SAMPLES - 1)
    compressed = 0
    with path.open("rb") as handle:
        for index in range(_SAMPLES):
            handle.seek(index * step)
            compressed += len(encoder.compress(handle.read(_SAMPLE_BYTES)))
    compressed += len(encoder.finish())
    return compressed <= (1 - _MIN_SAVING) * _SAMPLES * _SAMPLE_BYTES
