"""Logical ADB streams multiplexed over one connection (phone stand-in, test infrastructure).

Each service the adb server OPENs becomes a :class:`Stream` with our local id
and the server's remote id. Flow control follows ``protocol.txt``: one WRTE in
flight per direction — we wait for the server's OKAY before sending the next
packet, and we send our OKAY for a received packet only once the service has
processed it (when it asks for the next one), so a slow consumer pushes back
on the server instead of buffering without bound.

With ``delayed_ack`` (both ends advertise it; a host adb server does only when
started with ``ADB_BURST_MODE=1``, ``ADB_DELAYED_ACK=1`` before 36.0) each
direction has a byte window instead (AOSP ``sockets.cpp``, ``adb.cpp``): OPEN's
arg1 is what we may send, our OKAY to it grants the server
:data:`INITIAL_DELAYED_ACK_BYTES`, and every OKAY then carries the bytes
consumed as an int32 payload, so WRTEs flow without a round trip each.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import struct
import threading
from typing import Protocol

from phone_standin.wire import A_CLSE, A_OKAY, A_WRTE

# What adbd grants the server on OPEN under delayed_ack (AOSP adb.h).
INITIAL_DELAYED_ACK_BYTES = 32 * 1024 * 1024
ACK_PAYLOAD = struct.Struct("<i")  # delayed_ack's OKAY payload: bytes consumed (or granted)


class StreamClosed(Exception):
    """The stream was closed (by either side or by a dropped connection)."""


class Sender(Protocol):
    """Whatever can put one ADB message on the wire (the connection)."""

    def send(self, command: int, arg0: int, arg1: int, data: bytes | memoryview = b"") -> None:
        """Send one message; raises OSError if the link is gone."""


class Stream:
    """One open service stream; the service thread reads and writes through it."""

    def __init__(
        self,
        local_id: int,
        remote_id: int,
        sender: Sender,
        max_payload: int,
        send_window: int | None = None,
    ) -> None:
        self.local_id = local_id
        self.remote_id = remote_id
        self._sender = sender
        self._max_payload = max_payload
        self._inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._okay = threading.Event()
        # delayed_ack: bytes we may still send (None: one packet in flight, classic).
        self._window = send_window
        self._window_changed = threading.Condition()
        self._ack_bytes = 0
        self._write_lock = threading.Lock()
        self._closed = threading.Event()
        self._close_lock = threading.Lock()
        self._ack_due = False
        self.closed_by_peer = False

    @property
    def closed(self) -> bool:
        """True once either side closed the stream."""
        return self._closed.is_set()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send data as WRTE packets of at most max_payload, each acknowledged.

        Raises:
            StreamClosed: the stream closed before all data was acknowledged.
        """
        view = memoryview(data)
        with self._write_lock:  # several pump threads may share one stream
            for offset in range(0, len(view), self._max_payload):
                self._write_packet(view[offset : offset + self._max_payload])

    def _write_packet(self, chunk: memoryview) -> None:
        if self.closed:
            raise StreamClosed(f"stream {self.local_id} is closed")
        if self._window is not None:
            self._write_windowed(chunk)
            return
        self._okay.clear()
        try:
            self._sender.send(A_WRTE, self.local_id, self.remote_id, chunk)
        except OSError as exc:
            raise StreamClosed(f"stream {self.local_id}: link lost") from exc
        self._okay.wait()
        if self.closed:
            raise StreamClosed(f"stream {self.local_id} closed while writing")

    def _write_windowed(self, chunk: memoryview) -> None:
        """delayed_ack: send at once while the server's window has room, else wait for acks."""
        with self._window_changed:
            while self._window is not None and self._window <= 0 and not self.closed:
                self._window_changed.wait()
            if self.closed:
                raise StreamClosed(f"stream {self.local_id} closed while writing")
            self._window = (self._window or 0) - len(chunk)
        try:
            self._sender.send(A_WRTE, self.local_id, self.remote_id, chunk)
        except OSError as exc:
            raise StreamClosed(f"stream {self.local_id}: link lost") from exc

    def recv(self) -> bytes | None:
        """Acknowledge the previous packet, then wait for the next one.

        Returns:
            The next WRTE payload, or None once the stream is closed.
        """
        if self._ack_due and not self.closed:
            self._ack_due = False
            # delayed_ack: the OKAY says how many bytes were consumed.
            acked = b"" if self._window is None else ACK_PAYLOAD.pack(self._ack_bytes)
            try:
                self._sender.send(A_OKAY, self.local_id, self.remote_id, acked)
            except OSError:
                self._mark_closed(by_peer=True)
        data = self._inbox.get()
        if data is None:
            self._inbox.put(None)  # later recv() calls must see the close too
            return None
        self._ack_due = True
        self._ack_bytes = len(data)
        return data

    def close(self) -> None:
        """Close from our side: send CLSE once and wake any waiting reader/writer."""
        if self._mark_closed(by_peer=False):
            # If the link is gone there is nothing left to tell the server.
            with contextlib.suppress(OSError):
                self._sender.send(A_CLSE, self.local_id, self.remote_id)

    # Called by the connection's reader thread.
    def on_data(self, data: bytes) -> None:
        """Queue a received WRTE payload for the service."""
        if not self.closed:
            self._inbox.put(data)

    def on_okay(self, acked_bytes: int | None = None) -> None:
        """The server acknowledged our last WRTE (delayed_ack: ``acked_bytes`` of them)."""
        if self._window is None:
            self._okay.set()
            return
        with self._window_changed:
            self._window += acked_bytes or 0
            self._window_changed.notify_all()

    def on_peer_close(self) -> None:
        """The server closed the stream (CLSE) or the link dropped."""
        self._mark_closed(by_peer=True)

    def _mark_closed(self, by_peer: bool) -> bool:
        with self._close_lock:
            if self._closed.is_set():
                return False
            self.closed_by_peer = by_peer
            self._closed.set()
        self._inbox.put(None)
        self._okay.set()
        with self._window_changed:
            self._window_changed.notify_all()
        return True


class StreamTable:
    """Local-id allocation and lookup for one connection's streams."""

    def __init__(self) -> None:
        self._streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(
        self, remote_id: int, sender: Sender, max_payload: int, send_window: int | None = None
    ) -> Stream:
        """Create and register a stream for a server-side stream id (window: delayed_ack)."""
        with self._lock:
            stream = Stream(next(self._ids), remote_id, sender, max_payload, send_window)
            self._streams[stream.local_id] = stream
        return stream

    def get(self, local_id: int) -> Stream | None:
        """Return the open stream with this local id, if any."""
        with self._lock:
            return self._streams.get(local_id)

    def discard(self, local_id: int) -> None:
        """Forget a finished stream; late packets for its id are then ignored."""
        with self._lock:
            self._streams.pop(local_id, None)

    def close_all(self) -> None:
        """Mark every stream closed by the peer (the connection is gone)."""
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for stream in streams:
            stream.on_peer_close()


class StreamReader:
    """Reads a stream as a byte stream: protocol frames need not align with WRTE packets."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._offset = 0

    def read_exact(self, size: int) -> bytes | None:
        """Return exactly size bytes, or None if the stream closes first."""
        while len(self._buffer) - self._offset < size:
            packet = self._stream.recv()
            if packet is None:
                return None
            if self._offset:
                del self._buffer[: self._offset]  # drop consumed bytes before growing
                self._offset = 0
            self._buffer += packet
        data = bytes(self._buffer[self._offset : self._offset + size])
        self._offset += size
        return data
