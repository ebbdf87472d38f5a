"""One ADB transport connection from the adb server to the phone stand-in (test infrastructure).

The adb server connects (``adb connect``), sends CNXN; we answer CNXN with
version 0x01000001, maxdata 1 MiB and the ``device::`` banner — no AUTH. Then
it OPENs services; each gets a :class:`Stream` and a thread running its
handler. A failed OPEN is answered ``CLSE(0, remote)``. One reader thread per
connection dispatches OKAY/WRTE/CLSE to the streams.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from typing import BinaryIO, cast

from phone_standin.services import DeviceContext, Handler, open_service
from phone_standin.streams import (
    ACK_PAYLOAD,
    INITIAL_DELAYED_ACK_BYTES,
    Stream,
    StreamClosed,
    StreamTable,
)
from phone_standin.wire import (
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_VERSION,
    A_WRTE,
    MAX_PAYLOAD,
    Message,
    WireError,
    pack_header,
    read_message,
)

log = logging.getLogger(__name__)
_SMALL_MESSAGE = 64 * 1024


class Connection:
    """Serves one adb server connection until it closes or is aborted."""

    def __init__(self, sock: socket.socket, banner: bytes, context: DeviceContext, label: str):
        self._sock = sock
        self._banner = banner
        self._context = context
        self._label = label  # e.g. "[Standin|127.0.0.1:40123]" for every log line
        self._send_lock = threading.Lock()
        self._streams = StreamTable()
        self._max_payload = MAX_PAYLOAD
        self._connected = False
        self._delayed_ack = False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def delayed_ack(self) -> bool:
        """Whether both ends offered ``delayed_ack`` (byte windows instead of one packet)."""
        return self._delayed_ack

    def send(self, command: int, arg0: int, arg1: int, data: bytes | memoryview = b"") -> None:
        """Send one message; messages from all stream threads are serialised here."""
        header = pack_header(command, arg0, arg1, len(data))
        with self._send_lock:
            if len(data) <= _SMALL_MESSAGE:
                self._sock.sendall(header + bytes(data))  # one segment for small messages
            else:
                self._sock.sendall(header)
                self._sock.sendall(data)  # large payloads are sent without a copy

    def serve(self) -> None:
        """Read and dispatch messages until the link closes; then close every stream."""
        # makefile("rb") is a BufferedReader; typeshed only promises IOBase.
        reader = cast(BinaryIO, self._sock.makefile("rb", buffering=256 * 1024))
        try:
            while (message := read_message(reader)) is not None:
                self._dispatch(message)
        except (OSError, WireError) as exc:
            log.info("%s connection ended: %s", self._label, exc)
        finally:
            self._streams.close_all()
            reader.close()
            with contextlib.suppress(OSError):
                self._sock.close()

    def abort(self) -> None:
        """Drop the link abruptly (RST, no CLSE), like pulling the USB cable."""
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader thread
        with contextlib.suppress(OSError):
            self._sock.close()

    def _dispatch(self, message: Message) -> None:
        if message.command == A_CNXN:
            self._on_connect(message)
        elif not self._connected:
            log.debug("%s ignoring %s before CNXN", self._label, message.name)
        elif message.command == A_OPEN:
            self._on_open(message)
        elif message.command == A_WRTE:
            if stream := self._streams.get(message.arg1):
                stream.on_data(message.data)
        elif message.command == A_OKAY:
            if stream := self._streams.get(message.arg1):
                acked = ACK_PAYLOAD.unpack(message.data)[0] if len(message.data) == 4 else None
                stream.on_okay(acked)
        elif message.command == A_CLSE:
            if stream := self._streams.get(message.arg1):
                stream.on_peer_close()
                self._streams.discard(stream.local_id)
        else:
            log.debug("%s ignoring %s", self._label, message.name)

    def _on_connect(self, message: Message) -> None:
        # Send no more than the server accepts: its maxdata is arg1.
        self._max_payload = min(message.arg1 or MAX_PAYLOAD, MAX_PAYLOAD)
        # delayed_ack only when both ends offer it (the server's banner: "host::features=...").
        host_features = message.data.rstrip(b"\0").partition(b"features=")[2].split(b";")[0]
        self._delayed_ack = (
            "delayed_ack" in self._context.features and b"delayed_ack" in host_features.split(b",")
        )
        self._connected = True
        self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, self._banner)
        log.info("%s connected (server maxdata %d)", self._label, message.arg1)

    def _on_open(self, message: Message) -> None:
        # Service names arrive NUL-terminated.
        name = message.data.rstrip(b"\0").decode("utf-8", "surrogateescape")
        handler = open_service(name, self._context)
        if handler is None or self._delayed_ack != bool(message.arg1):
            # (adbd also refuses an OPEN whose window disagrees with the negotiated acks)
            log.info("%s OPEN %r refused", self._label, name)
            self.send(A_CLSE, 0, message.arg0)
            return
        window = message.arg1 if self._delayed_ack else None
        stream = self._streams.add(message.arg0, self, self._max_payload, window)
        granted = ACK_PAYLOAD.pack(INITIAL_DELAYED_ACK_BYTES) if self._delayed_ack else b""
        self.send(A_OKAY, stream.local_id, message.arg0, granted)
        log.debug("%s OPEN %r -> stream %d", self._label, name, stream.local_id)
        thread = threading.Thread(
            target=self._run_service,
            args=(stream, handler),
            name=f"standin-{name[:20]}",
            daemon=True,
        )
        thread.start()

    def _run_service(self, stream: Stream, handler: Handler) -> None:
        try:
            handler(stream)
        except StreamClosed:
            # Clients often just close mid-reply (adbutils' stat never sends QUIT).
            log.debug("%s stream %d closed by the client", self._label, stream.local_id)
        except Exception:
            log.exception("%s service on stream %d failed", self._label, stream.local_id)
        finally:
            stream.close()
            self._streams.discard(stream.local_id)
