"""Pushing a file through the adb server's sync service, as ``adb push`` does.

The device's feature list picks the request: ``SND2`` (sync v2, Android 11+) when
it advertises ``sendrecv_v2``, compressed with the method ``adb push`` would pick
(``sync_compression.choose_method``: zstd, else lz4, else brotli; ``$ADB_COMPRESSION``
or the ``compression`` argument override it); ``SEND`` (v1, the path and mode as
text) on older devices. Requests and frames per AOSP ``packages/modules/adb``
``file_sync_protocol.h`` and ``client/file_sync_client.cpp``: ``DATA`` frames of
at most 64 KiB (compressed or not), ``DONE`` with the mtime, then the device's
``OKAY`` or ``FAIL``.

We speak to the adb server on our own socket instead of adbutils' connection: its
``open_transport`` first asks the server's version on a second connection, and its
``close`` sleeps 10 ms, twice 10 ms per push; at 50 MB that was the whole gap to
``adb push`` (scripts/bench_push.py).
"""

from __future__ import annotations

import contextlib
import socket
import stat
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from controller.transports.sync_compression import (
    FEATURE_SENDRECV_V2,
    Encoder,
    Method,
    choose_method,
    resolve_word,
    worth_compressing,
)

SYNC_DATA_MAX = 64 * 1024
CONNECT_TIMEOUT_SEC = 10.0
_READ_BLOCK = 1024 * 1024
_FRAME = struct.Struct("<4sI")
_SEND_V2_SETUP = struct.Struct("<4sII")
ProgressCallback = Callable[[int, int], None]


class SyncPushError(Exception):
    """The device refused or broke the push (message from the device when it sent one)."""


def sync_push(
    device: Any,
    src: Path,
    dst: str,
    progress: ProgressCallback | None = None,
    mode: int = 0o644,
    compression: str | None = None,
) -> int:
    """Push ``src`` to device path ``dst``; return the file's size in bytes.

    ``compression``: adb's word (``any``, ``none``, ``zstd``, ``lz4``, ``brotli``);
    None reads ``$ADB_COMPRESSION`` as ``adb push`` does (unset: ``any``). ``any``
    also leaves a file uncompressed when samples of it do not shrink
    (``worth_compressing``). Devices without sync v2 get an uncompressed v1 push
    whatever was asked.

    ``progress(done, total)`` counts the file bytes the socket (or the encoder in
    front of it) took; the sync protocol confirms only the whole file, so ``total`` is
    reported once the device's ``OKAY`` arrived and a push that fails never shows 100 %.

    Raises:
        SyncPushError: the device answered FAIL, or the connection closed mid-push.
        UserError: an unknown compression word (argument or ``$ADB_COMPRESSION``).

    Example:
        sync_push(adb.device("R58M..."), Path("model.tflite"), "/data/local/tmp/model.tflite")
    """
    server = _server_address(device)
    features = device_features(device)
    method = _pick_method(compression, features, src)
    total = src.stat().st_size
    request = _send_request(dst, stat.S_IFREG | mode, FEATURE_SENDRECV_V2 in features, method)
    with _sync_socket(server, device.serial) as sock, src.open("rb") as handle:
        sock.sendall(request)
        encoder = method.new_encoder() if method is not None else None
        for done in _send_data(sock, handle, encoder):
            if progress is not None and done < total:
                progress(done, total)
        sock.sendall(_FRAME.pack(b"DONE", int(time.time())))
        _check_status(sock)
        with contextlib.suppress(OSError):  # the file is confirmed; a goodbye may go unheard
            sock.sendall(_FRAME.pack(b"QUIT", 0))
    if progress is not None:
        progress(total, total)
    return total


def device_features(device: Any) -> frozenset[str]:
    """The features the device advertised (``host-serial:SERIAL:features``)."""
    with _server_socket(_server_address(device)) as sock:
        _request(sock, f"host-serial:{device.serial}:features")
        length = int(_read(sock, 4), 16)
        return frozenset(_read(sock, length).decode(errors="replace").split(","))


def _pick_method(requested: str | None, features: frozenset[str], src: Path) -> Method | None:
    """adb's choice (``choose_method``); when left to us, none for a file that does not shrink."""
    method = choose_method(requested, features)
    if method is None or resolve_word(requested) != "any" or worth_compressing(src, method):
        return method
    return None


def _send_request(path: str, mode: int, v2: bool, method: Method | None) -> bytes:
    """``SND2`` + its setup frame, or v1's ``SEND`` of ``path,mode``."""
    encoded = path.encode()
    if not v2:
        spec = encoded + f",{mode}".encode()
        return _FRAME.pack(b"SEND", len(spec)) + spec
    flags = method.flag if method is not None else 0
    return _FRAME.pack(b"SND2", len(encoded)) + encoded + _SEND_V2_SETUP.pack(b"SND2", mode, flags)


def _send_data(sock: socket.socket, handle: BinaryIO, encoder: Encoder | None) -> Iterator[int]:
    """Send the file as DATA frames; yield the file bytes consumed after each block.

    1 MiB blocks go to the kernel as one vectored write of header+payload pairs: no
    copies and few syscalls (this side costs ~6 ms of CPU per 50 MB uncompressed).
    """
    done = 0
    while block := handle.read(_READ_BLOCK):
        done += len(block)
        _send_frames(sock, block if encoder is None else encoder.compress(block))
        yield done
    if encoder is not None:
        _send_frames(sock, encoder.finish())


def _send_frames(sock: socket.socket, payload: bytes) -> None:
    view = memoryview(payload)
    parts: list[bytes | memoryview] = []
    for offset in range(0, len(view), SYNC_DATA_MAX):
        chunk = view[offset : offset + SYNC_DATA_MAX]
        parts += [_FRAME.pack(b"DATA", len(chunk)), chunk]
    _send_all(sock, parts)


def _send_all(sock: socket.socket, parts: list[bytes | memoryview]) -> None:
    """``sendmsg`` until every byte of ``parts`` is out (it may send partially)."""
    pending = [memoryview(p).cast("B") for p in parts]
    while pending:
        sent = sock.sendmsg(pending)
        while pending and sent >= len(pending[0]):
            sent -= len(pending[0])
            pending.pop(0)
        if pending and sent:
            pending[0] = pending[0][sent:]


def _server_address(device: Any) -> tuple[str, int]:
    """Where the adbutils device's server listens (adbutils keeps its client private)."""
    client = device._client  # noqa: SLF001 - adbutils exposes no public accessor
    return str(client.host), int(client.port)


@contextlib.contextmanager
def _server_socket(server: tuple[str, int]) -> Iterator[socket.socket]:
    with socket.create_connection(server, timeout=CONNECT_TIMEOUT_SEC) as sock:
        yield sock


@contextlib.contextmanager
def _sync_socket(server: tuple[str, int], serial: str) -> Iterator[socket.socket]:
    """A socket to the device's ``sync:`` service; blocking (a big push takes a while)."""
    with _server_socket(server) as sock:
        _request(sock, f"host:transport:{serial}")
        _request(sock, "sync:")
        sock.settimeout(None)
        yield sock


def _request(sock: socket.socket, service: str) -> None:
    """One adb server request (``%04x`` length + text); raise with the server's reason."""
    encoded = service.encode()
    sock.sendall(f"{len(encoded):04x}".encode() + encoded)
    status = _read(sock, 4)
    if status == b"OKAY":
        return
    reason = _read(sock, int(_read(sock, 4), 16)).decode(errors="replace")
    raise SyncPushError(f"adb server refused {service.split(':')[0]!r}: {reason}")


def _read(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise SyncPushError("the connection closed during the push (device unplugged?)")
        data += chunk
    return bytes(data)


def _check_status(sock: socket.socket) -> None:
    status, length = _FRAME.unpack(_read(sock, _FRAME.size))
    if status == b"OKAY":
        return
    message = _read(sock, length).decode(errors="replace") if length else ""
    raise SyncPushError(f"device answered {status!r}: {message}")
