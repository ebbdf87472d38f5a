"""Devices: what users name in a job, and how we reach the ones that match.

``Device`` is the seed's target representation (name, os, attributes). The
``DeviceRegistry`` knows the reachable devices — this host (the embedded
default) and every adb device in state ``device`` — with their profile from
``device_profiles/``, their attributes, and their transport.
"""

from __future__ import annotations

import logging
import os
import shlex
import threading
from dataclasses import dataclass, field
from typing import Any

from controller.device_attributes import device_attributes, matches, os_version
from controller.device_profiles import DeviceProfile, host_props, load_profiles, match_profile
from controller.errors import Error, UserError
from controller.transports.adb import (
    AdbDeviceConfig,
    AdbTransport,
    adb_server_port,
    adb_server_running,
)
from controller.transports.base import Transport
from controller.transports.local import LOCAL_SERIAL, LocalTransport

log = logging.getLogger("devicelab.devices")

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

    @property
    def attributes(self) -> list[str]:
        return device_attributes(self.props, self.profile, self.frameworks)

    def selected_by(self, wanted: Device) -> bool:
        """Does ``wanted`` pick this device? All of name, os and attributes must match.

        No filter at all means this host (the embedded default); a device may also
        be named by its adb serial (devicelab extension).
        """
        if not (wanted.name or wanted.os or wanted.attributes):
            return self.serial == LOCAL_SERIAL
        name = "" if wanted.name == self.serial else wanted.name
        return matches(
            self.name,
            self.os,
            self.attributes,
            name=name,
            os=wanted.os,
            attributes=wanted.attributes,
        )

    def as_device(self) -> Device:
        return Device(self.name, self.os, tuple(self.attributes), self.serial)

    def facts(self) -> dict[str, Any]:
        """Device facts the agent needs (it holds none of its own)."""
        if self.profile is None:
            return {}
        return {
            "soc_model": self.profile.soc_model or "",
            "htp_arch": self.profile.htp_arch or "",
            "library_dirs": list(self.profile.qnn_library_dirs),
        }


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


class DeviceRegistry:
    """Reachable devices and their transports (one transport per device)."""

    def __init__(self, adb_config: AdbDeviceConfig | None = None, use_adb: bool = True) -> None:
        self._entries: dict[str, DeviceEntry] = {}
        self._lock = threading.RLock()
        self._profiles = load_profiles()
        self._adb_config = adb_config or AdbDeviceConfig(
            python=os.environ.get("DEVICELAB_DEVICE_PYTHON") or None,
            root=os.environ.get("DEVICELAB_DEVICE_ROOT", "/data/local/tmp/devicelab"),
            qnn=os.environ.get("DEVICELAB_DEVICE_RUNTIME_QNN", "") not in ("", "0"),
            env=tuple(shlex.split(os.environ.get("DEVICELAB_DEVICE_ENV", ""))),
        )
        self._use_adb = use_adb

    def entries(self, probe_frameworks: bool = True) -> list[DeviceEntry]:
        """Every reachable device, refreshed from the adb server."""
        with self._lock:
            self._refresh()
            entries = list(self._entries.values())
        if probe_frameworks:
            for entry in entries:
                self.probe(entry)
        return entries

    def find(self, wanted: Device | None) -> list[DeviceEntry]:
        """Devices matching ``wanted`` (all of name, os, attributes); local first."""
        wanted = wanted or Device()
        if wanted.name in ("", LOCAL_DEVICE_NAME) and not wanted.os and not wanted.attributes:
            return [self.local()]
        needs_frameworks = "framework:" in str(wanted.attributes)
        return [e for e in self.entries(probe_frameworks=needs_frameworks) if e.selected_by(wanted)]

    def resolve(self, wanted: Device | None) -> DeviceEntry:
        """The first device matching ``wanted``; UserError naming what is reachable."""
        found = self.find(wanted)
        if not found:
            names = ", ".join(f"{e.name} ({e.serial})" for e in self.entries(False))
            raise UserError(f"no device matches {wanted!r}; reachable devices: {names}")
        return found[0]

    def profile_for(self, wanted: Device) -> DeviceProfile:
        """The SoC profile a compile job targets; the device need not be connected.

        Tried in order: a reachable matching device's profile, a known phone's
        name, a ``chipset:`` attribute, a profile's own name or part number.
        """
        for entry in self.find(wanted) if wanted.name or wanted.attributes else []:
            if entry.profile is not None:
                return entry.profile
        chipsets = {a.split(":", 1)[1] for a in wanted.attribute_list if a.startswith("chipset:")}
        for profile in self._profiles:
            names = {profile.name, profile.part_number, *(p.name for p in profile.phones)}
            if wanted.name in names or chipsets & {profile.chipset, *profile.chipset_aliases}:
                return profile
        raise UserError(
            f"no device profile matches {wanted!r}: name a phone or SoC from device_profiles/ "
            "(e.g. Device('Samsung Galaxy S23')) or give a chipset attribute "
            "(e.g. attributes=['chipset:qualcomm-snapdragon-8gen2'])"
        )

    def local(self) -> DeviceEntry:
        with self._lock:
            if LOCAL_SERIAL not in self._entries:
                props = host_props()
                self._entries[LOCAL_SERIAL] = DeviceEntry(
                    serial=LOCAL_SERIAL,
                    name=LOCAL_DEVICE_NAME,
                    os=os_version(props),
                    props=props,
                    profile=match_profile(props, self._profiles),
                    transport=LocalTransport(),
                )
            return self._entries[LOCAL_SERIAL]

    def close(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                entry.transport.close()
            self._entries.clear()

    def _refresh(self) -> None:
        self.local()
        listed = self._adb_serials()
        if listed is None:
            return  # the listing failed: keep what we know rather than drop live devices
        online = set(listed)
        for serial in list(self._entries):
            if serial != LOCAL_SERIAL and serial not in online:
                self._entries.pop(serial).transport.close()
        for serial in online - set(self._entries):
            entry = self._adb_entry(serial)
            if entry is not None:
                self._entries[serial] = entry

    def _adb_serials(self) -> list[str] | None:
        """Serials of adb devices in state ``device``; None when the listing failed."""
        if not self._use_adb or not adb_server_running():
            return []
        import adbutils

        try:
            client = adbutils.AdbClient(host="127.0.0.1", port=adb_server_port())
            return [d.serial for d in client.list() if d.state == "device"]
        except (adbutils.AdbError, adbutils.AdbTimeout, OSError) as exc:
            log.warning("listing adb devices on port %s failed: %s", adb_server_port(), exc)
            return None

    def _adb_entry(self, serial: str) -> DeviceEntry | None:
        import adbutils

        client = adbutils.AdbClient(host="127.0.0.1", port=adb_server_port())
        transport = AdbTransport(client.device(serial), self._adb_config)
        try:
            props = transport.getprop()
        except Error as exc:
            log.warning("[%s] cannot read properties: %s", serial, exc)
            return None
        profile = match_profile(props, self._profiles)
        model = props.get("ro.product.model", "")
        phone = profile.phone(model) if profile and model else None
        name = phone.name if phone else (model or serial)
        return DeviceEntry(serial, name, os_version(props), props, profile, transport)

    def probe(self, entry: DeviceEntry) -> None:
        """Ask the device's agent what it can run (starts the agent if needed)."""
        if entry.frameworks:
            return
        try:
            entry.frameworks = frameworks_from_info(entry.transport.connect().device_info())
        except Error as exc:
            log.warning("[%s] agent not reachable: %s", entry.serial, exc)
