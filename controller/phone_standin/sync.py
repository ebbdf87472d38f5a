"""The ``sync:`` service (push/pull/stat/list) of the phone stand-in (test infrastructure).

Protocol per AOSP ``SYNC.TXT`` / ``file_sync_protocol.h``: requests are
``id[4] length:u32le`` + a path of ``length`` bytes; all integers little-endian.
Implemented: STAT (v1 lstat), STA2/LST2 (``stat_v2``), LIST, SEND, RECV, QUIT.
Not implemented (and not advertised): LIS2 (``ls_v2``), SND2/RCV2
(``sendrecv_v2``, compression).

Requests are parsed from the stream as a byte stream: the server packs and
splits sync frames freely across WRTE packets. Every device path goes through
:meth:`DevicePaths.to_host`, the same mapping the shell uses.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from controller.phone_standin.paths import DevicePaths
from controller.phone_standin.streams import Stream, StreamReader

SYNC_DATA_MAX = 64 * 1024
MAX_PATH_LENGTH = 1024
_REQUEST = struct.Struct("<4sI")
_STAT_V1 = struct.Struct("<4sIII")
_STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")
_DENT = struct.Struct("<4sIIII")


class SyncFailure(Exception):
    """A request failed; the message goes back to the client in a FAIL frame."""


class SyncSession:
    """Serves sync requests on one stream until QUIT, close, or a failed transfer."""

    def __init__(self, stream: Stream, paths: DevicePaths) -> None:
        self._stream = stream
        self._paths = paths
        self._reader = StreamReader(stream)
        self._out = bytearray()
        self._handlers: dict[bytes, Callable[[str], bool]] = {
            b"STAT": self._stat_v1,
            b"STA2": lambda path: self._stat_v2(path, b"STA2", os.stat),
            b"LST2": lambda path: self._stat_v2(path, b"LST2", os.lstat),
            b"LIST": self._list,
            b"RECV": self._recv,
            b"SEND": self._send,
        }

    def run(self) -> None:
        """Request loop; each handler returns False to end the session (as adbd does)."""
        try:
            while (request := self._read_request()) is not None:
                ident, path = request
                handler = self._handlers.get(ident)
                if handler is None:
                    self._fail(f"unknown sync request {ident!r}")
                    break
                keep_going = handler(path)
                self._flush()
                if not keep_going:
                    break
        finally:
            self._stream.close()

    def _read_request(self) -> tuple[bytes, str] | None:
        header = self._reader.read_exact(_REQUEST.size)
        if header is None:
            return None
        ident, length = _REQUEST.unpack(header)
        if ident == b"QUIT":
            return None
        if length > MAX_PATH_LENGTH:
            self._fail(f"path too long: {length}")
            return None
        raw_path = self._reader.read_exact(length)
        if raw_path is None:
            return None
        return ident, raw_path.decode("utf-8", "surrogateescape")

    # Output: small frames are batched into one WRTE per request.
    def _put(self, data: bytes) -> None:
        self._out += data
        if len(self._out) >= 16 * SYNC_DATA_MAX:
            self._flush()

    def _flush(self) -> None:
        if self._out:
            data, self._out = self._out, bytearray()
            self._stream.write(data)

    def _fail(self, message: str) -> None:
        encoded = message.encode("utf-8", "replace")
        self._put(_REQUEST.pack(b"FAIL", len(encoded)) + encoded)
        self._flush()

    def _stat_v1(self, path: str) -> bool:
        try:
            info = os.lstat(self._paths.to_host(path))
        except OSError:
            self._put(_STAT_V1.pack(b"STAT", 0, 0, 0))  # v1 reports a missing file as zeros
            return True
        self._put(
            _STAT_V1.pack(b"STAT", info.st_mode, info.st_size & 0xFFFFFFFF, int(info.st_mtime))
        )
        return True

    def _stat_v2(self, path: str, ident: bytes, stat_fn: Callable[[Path], os.stat_result]) -> bool:
        try:
            info = stat_fn(self._paths.to_host(path))
        except OSError as exc:
            self._put(_STAT_V2.pack(ident, exc.errno or errno.EIO, *([0] * 10)))
            return True
        self._put(
            _STAT_V2.pack(
                ident, 0, info.st_dev, info.st_ino, info.st_mode, info.st_nlink,
                info.st_uid, info.st_gid, info.st_size,
                int(info.st_atime), int(info.st_mtime), int(info.st_ctime),
            )
        )  # fmt: skip
        return True

    def _list(self, path: str) -> bool:
        directory = self._paths.to_host(path)
        try:
            names = [".", "..", *sorted(os.listdir(directory))]
        except OSError:
            names = []  # adbd answers an unreadable directory with just DONE
        for name in names:
            with contextlib.suppress(OSError):
                info = os.lstat(directory / name)
                encoded = name.encode("utf-8", "surrogateescape")
                self._put(
                    _DENT.pack(b"DENT", info.st_mode, info.st_size & 0xFFFFFFFF,
                               int(info.st_mtime), len(encoded)) + encoded
                )  # fmt: skip
        self._put(_DENT.pack(b"DONE", 0, 0, 0, 0))
        return True

    def _recv(self, path: str) -> bool:
        try:
            with open(self._paths.to_host(path), "rb") as source:
                while chunk := source.read(SYNC_DATA_MAX):
                    self._put(_REQUEST.pack(b"DATA", len(chunk)) + chunk)
        except OSError as exc:
            self._out.clear()  # a partial file followed by FAIL would confuse clients
            self._fail(f"{exc.strerror or exc}")
            return False
        self._put(_REQUEST.pack(b"DONE", 0))
        return True

    def _send(self, spec: str) -> bool:
        device_path, _, mode_text = spec.rpartition(",")
        try:
            mode = int(mode_text)
        except ValueError:
            mode, device_path = 0o100644, spec  # old clients may omit the mode
        target = self._paths.to_host(device_path)
        try:
            mtime = self._receive_file(target, mode)
        except SyncFailure as exc:
            self._fail(str(exc))
            return False
        if mtime is None:
            return False  # stream closed mid-transfer
        with contextlib.suppress(OSError):
            os.utime(target, (mtime, mtime), follow_symlinks=False)
        self._paths.give_to_owner(target)
        self._put(_REQUEST.pack(b"OKAY", 0))
        return True

    def _receive_file(self, target: Path, mode: int) -> int | None:
        """Write the DATA frames to target; return the DONE mtime (None if the stream closed).

        Raises:
            SyncFailure: the file could not be written (remaining DATA was drained first).
        """
        if stat.S_ISLNK(mode):
            return self._receive_symlink(target)
        try:
            sink = _open_for_writing(target, self._paths)
        except OSError as exc:
            self._drain_data()
            raise SyncFailure(f"couldn't create file: {exc.strerror or exc}") from exc
        with sink:
            mtime = self._copy_data(sink.write)
        if mtime is not None:
            with contextlib.suppress(OSError):
                os.chmod(target, stat.S_IMODE(mode))
        return mtime

    def _receive_symlink(self, target: Path) -> int | None:
        parts: list[bytes] = []
        mtime = self._copy_data(parts.append)
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

    def _copy_data(self, sink: Callable[[bytes], object]) -> int | None:
        """Feed DATA payloads to sink until DONE; return its mtime, None if the stream closed."""
        failure: OSError | None = None
        while (frame := self._read_data_frame()) is not None:
            if isinstance(frame, int):
                if failure is not None:
                    raise SyncFailure(f"write failed: {failure.strerror or failure}")
                return frame
            if failure is None:
                try:
                    sink(frame)
                except OSError as exc:
                    failure = exc  # keep draining until DONE, as adbd does
        return None

    def _drain_data(self) -> None:
        while (frame := self._read_data_frame()) is not None and not isinstance(frame, int):
            pass

    def _read_data_frame(self) -> bytes | int | None:
        """One SEND frame: DATA payload (bytes), DONE mtime (int), or None if closed.

        Raises:
            SyncFailure: a frame other than DATA/DONE, or DATA larger than 64 KiB.
        """
        header = self._reader.read_exact(_REQUEST.size)
        if header is None:
            return None
        ident, length = _REQUEST.unpack(header)
        if ident == b"DONE":
            return length
        if ident != b"DATA":
            raise SyncFailure(f"invalid data message {ident!r}")
        if length > SYNC_DATA_MAX:
            raise SyncFailure("oversize data message")
        return self._reader.read_exact(length)


def serve_sync(stream: Stream, paths: DevicePaths) -> None:
    """Service entry point for ``sync:``."""
    SyncSession(stream, paths).run()


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
