"""Host requests to the adb server, answered on one short connection.

The worker lists devices before every claim. adbutils' ``AdbClient.list()``
sleeps 10 ms when it closes its connection (``adbutils/_adb.py``, ``close``),
which was most of a job's queue time here (12 ms of ~100 ms submit -> result,
``scripts/bench_latency.py``). The request is one line of adb's smart-socket
protocol (``SERVICES.TXT`` of adb's sources): the length in four hex digits
and the service; the answer ``OKAY`` and a length-prefixed payload, or
``FAIL`` and a length-prefixed message.
"""

from __future__ import annotations

import socket

_TIMEOUT_SEC = 2.0


class AdbHostError(OSError):
    """The adb server refused a host request (``FAIL``) or answered garbage."""


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AdbHostError(f"the adb server closed the connection after {len(data)} bytes")
        data += chunk
    return data


def host_request(port: int, service: str, timeout_sec: float = _TIMEOUT_SEC) -> str:
    """Send ``service`` (e.g. ``host:devices``) to the adb server on ``port``; its payload.

    Raises OSError when no server listens, AdbHostError when it refuses.
    """
    request = service.encode()
    with socket.create_connection(("127.0.0.1", port), timeout_sec) as sock:
        sock.sendall(b"%04x" % len(request) + request)
        status = _read_exactly(sock, 4)
        length = int(_read_exactly(sock, 4), 16)
        payload = _read_exactly(sock, length).decode(errors="replace")
    if status != b"OKAY":
        raise AdbHostError(f"adb server: {service}: {payload}")
    return payload


def device_serials(port: int) -> list[str]:
    """Serials of the devices the adb server on ``port`` lists in state ``device``.

    Example:
        device_serials(5037)   # ["R5CT1234", "127.0.0.1:5555"]
    """
    serials = []
    for line in host_request(port, "host:devices").splitlines():
        serial, _, state = line.partition("\t")
        if state.strip() == "device":
            serials.append(serial)
    return serials
