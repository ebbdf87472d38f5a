"""Push and pull of the stand-in's ``sync:`` service: SEND/SND2, RECV/RCV2 (test infrastructure).

As adbd does it (AOSP ``daemon/file_sync_service.cpp``): v1 ``SEND`` names
``path,mode``; v2 ``SND2`` names the path and follows it with a setup frame
``SND2 mode:u32 flags:u32``, ``RCV2`` with ``RCV2 flags:u32``. A flag picks one
compression method (``controller.transports.sync_compression``) whose single
stream spans the whole file, cut into ``DATA`` frames anywhere; ``kSyncFlagDryRun``
receives and discards. The stand-in decompresses with the same C libraries adbd
links (zstd, lz4, brotli through their PyPI bindings), so it stays faster than
the link it stands in for.

Where adbd would hang or crash on a bad stream, the stand-in fails it instead: a
corrupt or truncated compressed stream, or bytes after its end, is answered
``FAIL`` (after draining to ``DONE``, so the client reads the reason).
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from controller.transports.sync_compression import (
    FLAG_DRY_RUN,
    CompressionError,
    Decoder,
    Method,
    method_for_flags,
)
from phone_standin.paths import DevicePaths
from phone_standin.streams import StreamReader

SYNC_DATA_MAX = 64 * 1024
_FRAME = struct.Struct("<4sI")
_SEND_V2_SETUP = struct.Struct("<4sII")
_RECV_V2_SETUP = struct.Struct("<4sI")


class SyncFailure(Exception):
    """A request failed; the message goes back to the client in a FAIL frame."""


class Transfers:
    """SEND/SND2/RECV/RCV2 on one sync session; each returns False to end the session."""

    def __init__(
        self,
        reader: StreamReader,
        put: Callable[[bytes], None],
        fail: Callable[[str], None],
        paths: DevicePaths,
        dry_run: bool,
        log: list[str],
    ) -> None:
        self._reader = reader
        self._put = put  # buffered output of the session
        self._fail = fail
        self._paths = paths
        self._dry_run_allowed = dry_run  # sendrecv_v2_dry_run_send advertised
        self._log = log  # "SND2 zstd", "RECV": what each transfer asked for

    # ---- pull
    def recv_v1(self, path: str) -> bool:
        """``RECV``: the file as plain DATA frames, then DONE."""
        self._log.append("RECV")
        return self._recv(path, None)

    def recv_v2(self, path: str) -> bool:
        """``RCV2`` + setup frame: the file through the flagged method (or plain)."""
        setup = self._reader.read_exact(_RECV_V2_SETUP.size)
        if setup is None:
            return False
        _ident, flags = _RECV_V2_SETUP.unpack(setup)
        try:
            if flags & FLAG_DRY_RUN:
                raise CompressionError(f"unknown flags: {flags}")  # dry run is for SND2 only
            method = method_for_flags(flags)
        except CompressionError as exc:
            self._fail(str(exc))
            return False
        self._log.append(f"RCV2 {method.name if method else 'none'}")
        return self._recv(path, method)

    def _recv(self, path: str, method: Method | None) -> bool:
        encoder = method.new_encoder() if method is not None else None
        try:
            with open(self._paths.to_host(path), "rb") as source:
                while block := source.read(SYNC_DATA_MAX):
                    self._put_data(block if encoder is None else encoder.compress(block))
        except OSError as exc:
            self._fail(f"{exc.strerror or exc}")  # the session drops the partial output
            return False
        if encoder is not None:
            self._put_data(encoder.finish())
        self._put(_FRAME.pack(b"DONE", 0))
        return True

    def _put_data(self, payload: bytes) -> None:
        for offset in range(0, len(payload), SYNC_DATA_MAX):
            chunk = payload[offset : offset + SYNC_DATA_MAX]
            self._put(_FRAME.pack(b"DATA", len(chunk)) + chunk)

    # ---- push
    def send_v1(self, spec: str) -> bool:
        """``SEND path,mode``: plain DATA frames until DONE."""
        device_path, _, mode_text = spec.rpartition(",")
        try:
            mode = int(mode_text)
        except ValueError:
            mode, device_path = 0o100644, spec  # old clients may omit the mode
        self._log.append("SEND")
        return self._send(device_path, mode, None, dry_run=False)

    def send_v2(self, path: str) -> bool:
        """``SND2 path`` + setup frame (mode, flags)."""
        setup = self._reader.read_exact(_SEND_V2_SETUP.size)
        if setup is None:
            return False
        _ident, mode, flags = _SEND_V2_SETUP.unpack(setup)
        try:
            if flags & FLAG_DRY_RUN and not self._dry_run_allowed:
                raise CompressionError(f"unknown flags: {flags}")
            method = method_for_flags(flags)
        except CompressionError as exc:
            self._fail(str(exc))
            return False
        dry_run = bool(flags & FLAG_DRY_RUN)
        self._log.append(f"SND2 {method.name if method else 'none'}{' dry-run' if dry_run else ''}")
        return self._send(path, mode, method, dry_run)

    def _send(self, device_path: str, mode: int, method: Method | None, dry_run: bool) -> bool:
        target = self._paths.to_host(device_path)
        decoder = method.new_decoder() if method is not None else None
        try:
            if dry_run:
                mtime = self._copy_data(lambda _data: None, decoder)
            else:
                mtime = self._receive_file(target, mode, decoder)
        except SyncFailure as exc:
            self._fail(str(exc))
            return False
        if mtime is None:
            return False  # stream closed mid-transfer
        if not dry_run:
            with contextlib.suppress(OSError):
                os.utime(target, (mtime, mtime), follow_symlinks=False)
            self._paths.give_to_owner(target)
        self._put(_FRAME.pack(b"OKAY", 0))
        return True

    def _receive_file(self, target: Path, mode: int, decoder: Decoder | None) -> int | None:
        """Write the DATA frames to target; return the DONE mtime (None if the stream closed).

        Raises:
            SyncFailure: the file could not be written or decoded (the rest was drained first).
        """
        if stat.S_ISLNK(mode):
            return self._receive_symlink(target, decoder)
        try:
            sink = _open_for_writing(target, self._paths)
        except OSError as exc:
            self._drain_data()
            raise SyncFailure(f"couldn't create file: {exc.strerror or exc}") from exc
        with sink:
            mtime = self._copy_data(sink.write, decoder)
        if mtime is not None:
            with contextlib.suppress(OSError):
                os.chmod(target, stat.S_IMODE(mode))
        return mtime

    def _receive_symlink(self, target: Path, decoder: Decoder | None) -> int | None:
        parts: list[bytes] = []
        mtime = self._copy_data(parts.append, decoder)
        if mtime is None:
            return None
        try:
            self._paths.make_parents(target)
            if target.is_symlink() or target.exists():
                target.unlink()
            os.symlink(b"".join(parts).rstrip(b"\0"), target)
        except OSError as exc:
            raise SyncFailure(f"couldn't create symlink: {exc.strerror or exc}") from exc
        return mtime

    def _copy_data(self, sink: Callable[[bytes], object], decoder: Decoder | None) -> int | None:
        """Feed DATA payloads (decoded) to sink until DONE; return its mtime, None if closed.

        A failed write or decode is remembered and reported after DONE: the client
        is still sending, and reads the FAIL only once it has finished.
        """
        failure: str | None = None
        while (frame := self._read_data_frame()) is not None:
            if isinstance(frame, int):
                if failure is None and decoder is not None:
                    failure = _decode_failure(decoder.finish)
                if failure is not None:
                    raise SyncFailure(failure)
                return frame
            if failure is None:
                failure = _write_failure(sink, frame, decoder)
        return None

    def _drain_data(self) -> None:
        while (frame := self._read_data_frame()) is not None and not isinstance(frame, int):
            pass

    def _read_data_frame(self) -> bytes | int | None:
        """One SEND frame: DATA payload (bytes), DONE mtime (int), or None if closed.

        Raises:
            SyncFailure: a frame other than DATA/DONE, or DATA larger than 64 KiB.
        """
        header = self._reader.read_exact(_FRAME.size)
        if header is None:
            return None
        ident, length = _FRAME.unpack(header)
        if ident == b"DONE":
            return length
        if ident != b"DATA":
            raise SyncFailure(f"invalid data message {ident!r}")
        if length > SYNC_DATA_MAX:
            raise SyncFailure("oversize data message")
        return self._reader.read_exact(length)


def _write_failure(
    sink: Callable[[bytes], object], data: bytes, decoder: Decoder | None
) -> str | None:
    """Decode and write one payload; the FAIL text if either failed."""
    if decoder is not None:
        try:
            data = decoder.decompress(data)
        except CompressionError as exc:
            return f"decompress failed: {exc}"
    try:
        sink(data)
    except OSError as exc:
        return f"write failed: {exc.strerror or exc}"
    return None


def _decode_failure(finish: Callable[[], None]) -> str | None:
    try:
        finish()
    except CompressionError as exc:
        return f"decompress failed: {exc}"
    return None


def _open_for_writing(target: Path, paths: DevicePaths) -> BinaryIO:
    """Create parents and open for writing; replace a read-only file like adbd would."""
    paths.make_parents(target)
    try:
        return open(target, "wb")  # noqa: SIM115 - the caller owns and closes it
    except PermissionError:
        if not target.is_file():
            raise
        target.unlink()
        return open(target, "wb")  # noqa: SIM115
