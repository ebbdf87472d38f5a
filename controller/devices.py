"""Devices: what users name in a job, and how we reach the one that matches.

``Device`` is the seed's target representation (name, os, attributes). The
``DeviceRegistry`` knows the devices this controller can reach and hands out
their transports; for now that is the local host (the embedded default).
"""

from __future__ import annotations

import platform
import threading
from dataclasses import dataclass, field

from controller.errors import UserError
from controller.transports.base import Transport
from controller.transports.local import LOCAL_SERIAL, LocalTransport

LOCAL_DEVICE_NAME = "local"


@dataclass(frozen=True)
class Device:
    """A target device: by name, OS version (or interval), and attributes.

    Example:
        Device("local")                       # this host
        Device(attributes=["framework:onnx"])  # any device that runs ONNX
    """

    name: str = ""
    os: str = ""
    attributes: tuple[str, ...] | list[str] | str = field(default=())


class DeviceRegistry:
    """Reachable devices and their transports (one transport per device)."""

    def __init__(self) -> None:
        self._transports: dict[str, Transport] = {}
        self._lock = threading.Lock()

    def resolve(self, device: Device | None) -> tuple[Device, Transport]:
        """The concrete device for a request, with its transport."""
        wanted = device or Device()
        if wanted.name in ("", LOCAL_DEVICE_NAME, platform.node()):
            return Device(LOCAL_DEVICE_NAME, wanted.os, wanted.attributes), self.local()
        raise UserError(
            f"no device matches name={wanted.name!r}; reachable devices: {LOCAL_DEVICE_NAME}"
        )

    def local(self) -> Transport:
        with self._lock:
            if LOCAL_SERIAL not in self._transports:
                self._transports[LOCAL_SERIAL] = LocalTransport()
            return self._transports[LOCAL_SERIAL]

    def close(self) -> None:
        with self._lock:
            for transport in self._transports.values():
                transport.close()
            self._transports.clear()
