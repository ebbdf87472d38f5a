"""The ``sync:`` service (push/pull/stat/list) of the phone stand-in (test infrastructure).

Protocol per AOSP ``SYNC.TXT`` / ``file_sync_protocol.h``: requests are
``id[4] length:u32le`` + a path of ``length`` bytes; all integers little-endian.
Implemented: STAT (v1 lstat), STA2/LST2 (``stat_v2``), LIST, LIS2 (``ls_v2``),
SEND/RECV and SND2/RCV2 with compression (``sendrecv_v2*``, :mod:`.sync_transfer`),
QUIT. A v2 request the device did not advertise is refused as an unknown
command, as an older adbd would.

Requests are parsed from the stream as a byte stream: the server packs and
splits sync frames freely across WRTE packets. Every device path goes through
:meth:`DevicePaths.to_host`, the same mapping the shell uses.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from controller.transports.sync_compression import FEATURE_DRY_RUN_SEND, FEATURE_SENDRECV_V2
from phone_standin.paths import DevicePaths
from phone_standin.streams import Stream, StreamReader
from phone_standin.sync_transfer import Transfers

if TYPE_CHECKING:
    from phone_standin.services import DeviceContext

SYNC_DATA_MAX = 64 * 1024
MAX_PATH_LENGTH = 1024
_REQUEST = struct.Struct("<4sI")
_STAT_V1 = struct.Struct("<4sIII")
_STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")
_DENT = struct.Struct("<4sIIII")
_DENT_V2 = struct.Struct("<4sIQQIIIIQqqqI")


class SyncSession:
    """Serves sync requests on one stream until QUIT, close, or a failed transfer."""

    def __init__(
        self, stream: Stream, paths: DevicePaths, features: frozenset[str], log: list[str]
    ) -> None:
        self._stream = stream
        self._paths = paths
        self._reader = StreamReader(stream)
        self._out = bytearray()
        dry_run = FEATURE_DRY_RUN_SEND in features
        transfers = Transfers(self._reader, self._put, self._fail_transfer, paths, dry_run, log)
        self._handlers: dict[bytes, Callable[[str], bool]] = {
            b"STAT": self._stat_v1,
            b"STA2": lambda path: self._stat_v2(path, b"STA2", os.stat),
            b"LST2": lambda path: self._stat_v2(path, b"LST2", os.lstat),
            b"LIST": lambda path: self._list(path, v2=False),
            b"RECV": transfers.recv_v1,
            b"SEND": transfers.send_v1,
        }
        if "ls_v2" in features:
            self._handlers[b"LIS2"] = lambda path: self._list(path, v2=True)
        if FEATURE_SENDRECV_V2 in features:
            self._handlers[b"SND2"] = transfers.send_v2
            self._handlers[b"RCV2"] = transfers.recv_v2

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

    def _fail_transfer(self, message: str) -> None:
        self._out.clear()  # a partial file followed by FAIL would confuse clients
        self._fail(message)

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

    def _list(self, path: str, v2: bool) -> bool:
        directory = self._paths.to_host(path)
        try:
            names = [".", "..", *sorted(os.listdir(directory))]
        except OSError:
            names = []  # adbd answers an unreadable directory with just DONE
        for name in names:
            encoded = name.encode("utf-8", "surrogateescape")
            try:
                info = os.lstat(directory / name)
            except OSError as exc:
                if v2:  # v2 reports the entry with its errno; v1 skips it
                    self._put(_DENT_V2.pack(b"DNT2", exc.errno or errno.EIO, *([0] * 10),
                                            len(encoded)) + encoded)  # fmt: skip
                continue
            self._put((_dent_v2(info, encoded) if v2 else _dent_v1(info, encoded)) + encoded)
        self._put(_DENT_V2.pack(b"DONE", *([0] * 12)) if v2 else _DENT.pack(b"DONE", 0, 0, 0, 0))
        return True


def serve_sync(stream: Stream, context: DeviceContext) -> None:
    """Service entry point for ``sync:``."""
    SyncSession(stream, context.paths, context.features, context.transfers).run()


def _dent_v1(info: os.stat_result, name: bytes) -> bytes:
    return _DENT.pack(
        b"DENT", info.st_mode, info.st_size & 0xFFFFFFFF, int(info.st_mtime), len(name)
    )


def _dent_v2(info: os.stat_result, name: bytes) -> bytes:
    return _DENT_V2.pack(
        b"DNT2", 0, info.st_dev, info.st_ino, info.st_mode, info.st_nlink,
        info.st_uid, info.st_gid, info.st_size,
        int(info.st_atime), int(info.st_mtime), int(info.st_ctime), len(name),
    )  # fmt: skip
