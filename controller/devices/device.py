"""``Device``: what users name in a job (the cloud service's target representation), and
whether a filter selects a reachable device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.devices.filters import matches
from controller.devices.simulated import SIMULATED_ATTRIBUTE
from controller.transports.local import LOCAL_SERIAL

LOCAL_DEVICE_NAME = "local"


@dataclass(frozen=True)
class Device:
    """A target device: by name, OS version (or interval), and attributes.

    Example:
        Device("local")                          # this host
        Device("Samsung Galaxy S23")             # a phone on the lab's USB hub
        Device(attributes=["framework:onnx"])     # any device that runs ONNX
    """

    name: str = ""
    os: str = ""
    attributes: tuple[str, ...] | list[str] | str = field(default=())
    serial: str = ""  # devicelab extension: filled in on devices the API returns
    # devicelab extensions too: the device's health state (controller/device_states.py)
    # and why, on devices ``get_devices`` returns; not part of a device's identity.
    state: str = field(default="", compare=False)
    state_reason: str = field(default="", compare=False)
    # devicelab extension: the lab host whose worker reaches it (``DEVICELAB_HOST``).
    host: str = field(default="", compare=False)

    @property
    def attribute_list(self) -> list[str]:
        """``attributes`` as a list (the API accepts one string or several)."""
        return [self.attributes] if isinstance(self.attributes, str) else list(self.attributes)

    def as_filter(self) -> dict[str, Any]:
        """How a job stores its device (JSON), read back by ``from_filter``."""
        return {"name": self.name, "os": self.os, "attributes": self.attribute_list}

    @classmethod
    def from_filter(cls, device_filter: dict[str, Any]) -> Device:
        return cls(
            device_filter.get("name", ""),
            device_filter.get("os", ""),
            tuple(device_filter.get("attributes", ())),
        )


def selects(wanted: Device, device: Device, *, simulated: bool = False) -> bool:
    """Does ``wanted`` pick ``device`` (a reachable one, with its serial)? All of name,
    os and attributes must match.

    No filter at all means this host (the embedded default); a device may also be
    named by its adb serial (devicelab extension); a simulator only when asked for.
    """
    if not (wanted.name or wanted.os or wanted.attributes):
        return device.serial == LOCAL_SERIAL
    if simulated and not _asked_for(wanted, device):
        return False  # a simulator only when asked for: never a busy phone's stand-in
    name = "" if wanted.name == device.serial else wanted.name
    return matches(
        device.name,
        device.os,
        device.attribute_list,
        name=name,
        os=wanted.os,
        attributes=wanted.attributes,
    )


def _asked_for(wanted: Device, device: Device) -> bool:
    """Named by its own name or serial, or filtered on ``simulated:true``."""
    return wanted.name in (device.name, device.serial) or (
        SIMULATED_ATTRIBUTE in wanted.attribute_list
    )
