"""The ``tcp:PORT`` service of the phone stand-in (test infrastructure): a socket on the "device".

``adb forward tcp:X tcp:Y`` makes the server OPEN ``tcp:Y`` on the device; the
stand-in connects to ``127.0.0.1:Y`` on the host (``tcp:HOST:PORT`` names
another host) and pipes bytes both ways, so a real server started from a
stand-in shell is reachable through adb exactly as on a phone. ADB streams
have no half-close, so either side ending ends both.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from phone_standin.streams import Stream, StreamClosed

CONNECT_TIMEOUT_SEC = 5.0
_RECV_SIZE = 256 * 1024


def parse_tcp_service(name: str) -> tuple[str, int] | None:
    """``tcp:5000`` -> (127.0.0.1, 5000); ``tcp:host:5000`` -> (host, 5000); else None."""
    if not name.startswith("tcp:"):
        return None
    host, _, port_text = name[len("tcp:") :].rpartition(":")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return host or "127.0.0.1", int(port_text)


def open_forward(name: str) -> Callable[[Stream], None] | None:
    """Connect now (so a refused port fails the OPEN, as on a device); None on failure."""
    target = parse_tcp_service(name)
    if target is None:
        return None
    try:
        sock = socket.create_connection(target, timeout=CONNECT_TIMEOUT_SEC)
    except OSError:
        return None
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return lambda stream: pipe(stream, sock)


def pipe(stream: Stream, sock: socket.socket) -> None:
    """Copy stream -> socket here and socket -> stream on a helper thread, until either ends."""
    upstream = threading.Thread(target=_socket_to_stream, args=(sock, stream), daemon=True)
    upstream.start()
    try:
        while (data := stream.recv()) is not None:
            sock.sendall(data)
    except OSError:
        pass  # the host server went away; closing the stream below tells the client
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes the helper blocked in recv()
        stream.close()
        upstream.join()
        sock.close()


def _socket_to_stream(sock: socket.socket, stream: Stream) -> None:
    try:
        while data := sock.recv(_RECV_SIZE):
            stream.write(data)
    except (OSError, StreamClosed):
        pass
    finally:
        stream.close()
