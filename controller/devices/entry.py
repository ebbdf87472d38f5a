"""``DeviceEntry``: a reachable device with what we know about it (its properties,
SoC profile, frameworks) and the transport that reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.devices.attributes import device_attributes
from controller.devices.device import Device, selects
from controller.devices.profiles import DeviceProfile
from controller.devices.simulated import simulated_attributes, simulated_facts
from controller.transports.base import Transport
from controller.transports.local import LOCAL_SERIAL


@dataclass
class DeviceEntry:
    """A reachable device with what we know about it."""

    serial: str
    name: str
    os: str
    props: dict[str, str]
    profile: DeviceProfile | None
    transport: Transport
    frameworks: tuple[str, ...] = ()
    simulated: bool = False  # the HTP simulator on this host configured as ``profile``

    @property
    def rests(self) -> bool:
        """Is its battery and temperature minded (``resting``)? A phone or board: not
        this host (a workstation's CPU runs hot by design) nor its simulated SoCs."""
        return self.serial != LOCAL_SERIAL and not self.simulated

    @property
    def attributes(self) -> list[str]:
        if self.simulated and self.profile is not None:
            return simulated_attributes(self.profile, self.frameworks)
        return device_attributes(self.props, self.profile, self.frameworks)

    def selected_by(self, wanted: Device) -> bool:
        """Does ``wanted`` pick this device? All of name, os and attributes must match.

        No filter at all means this host (the embedded default); a device may also
        be named by its adb serial (devicelab extension).
        """
        return selects(wanted, self.as_device(), simulated=self.simulated)

    def as_device(self) -> Device:
        # A list, as the cloud client's devices carry them (qai-hub-models tests
        # ``isinstance(device.attributes, list)``).
        return Device(self.name, self.os, list(self.attributes), self.serial)

    @property
    def library_dirs(self) -> list[str]:
        """Where the agent looks first for the NPU's QNN libraries: the profile's
        ``libraries.qnn`` (none for a simulated SoC: the host has no phone paths)."""
        return list(self.facts().get("library_dirs", []))

    def device_info(self) -> Any:
        """What the device's agent runs on and can run (``GetDeviceInfo``), its runtimes
        looking in :attr:`library_dirs` too; starts the agent if needed."""
        return self.transport.connect().device_info(self.library_dirs)

    def facts(self) -> dict[str, Any]:
        """Device facts the agent needs (it holds none of its own)."""
        if self.profile is None:
            return {}
        if self.simulated:
            return simulated_facts(self.profile)
        facts: dict[str, Any] = {
            "soc_model": self.profile.soc_model or "",
            "htp_arch": self.profile.htp_arch or "",
            "library_dirs": list(self.profile.qnn_library_dirs),
        }
        if self.profile.has_npu:  # keeps fp16 off an HTP that has none
            facts["htp_fp16"] = str(self.profile.htp_fp16).lower()
        return facts


def frameworks_from_info(info: Any) -> tuple[str, ...]:
    """``framework:*`` values from what the agent reports available."""
    found = set()
    for runtime in info.runtimes:
        if not runtime.available:
            continue
        if runtime.name == "litert":
            found.add("tflite")
        if runtime.name == "onnxruntime":
            found.add("onnx")
        if runtime.backends:
            found.add("qnn")
    return tuple(sorted(found))
