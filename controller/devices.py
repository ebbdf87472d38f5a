"""Devices: what users name in a job, and how we reach the ones that match.

``Device`` is the seed's target representation (name, os, attributes). The
``DeviceRegistry`` knows the reachable devices — this host (the embedded
default) and every adb device in state ``device`` — with their profile from
``device_profiles/``, their attributes, and their transport.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from controller import settings
from controller.device_attributes import device_attributes, matches, name_matches, os_version
from controller.device_profiles import DeviceProfile, host_props, load_profiles, match_profile
from controller.errors import Error, UserError
from controller.simulated import (
    SIMULATED_ATTRIBUTE,
    TWIN_OF_KEY,
    SimulatedTransport,
    simulatable,
    simulate_enabled,
    simulated_attributes,
    simulated_facts,
    simulated_name,
    simulated_serial,
)
from controller.transports.adb import (
    AdbDeviceConfig,
    AdbTransport,
    adb_server_port,
)
from controller.transports.adb_host import device_serials
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


class DeviceRegistry:
    """Reachable devices and their transports (one transport per device)."""

    def __init__(self, adb_config: AdbDeviceConfig | None = None, use_adb: bool = True) -> None:
        self._entries: dict[str, DeviceEntry] = {}
        self._lock = threading.RLock()
        self._profiles = load_profiles()
        self._adb_config = adb_config or AdbDeviceConfig(
            python=settings.text("DEVICELAB_DEVICE_PYTHON") or None,
            root=settings.text("DEVICELAB_DEVICE_ROOT"),
            qnn=settings.flag("DEVICELAB_DEVICE_RUNTIME_QNN"),
            env=settings.words("DEVICELAB_DEVICE_ENV"),
        )
        self._use_adb = use_adb

    def entries(self, probe_frameworks: bool = True) -> list[DeviceEntry]:
        """Every reachable device, refreshed from the adb server; simulated SoCs last."""
        with self._lock:
            self._refresh()
            entries = sorted(self._entries.values(), key=lambda e: e.simulated)
        if probe_frameworks:
            for entry in entries:
                self.probe(entry)
        return entries

    def entry(self, serial: str) -> DeviceEntry | None:
        """The reachable device with this serial (refreshed from adb), else None."""
        with self._lock:
            self._refresh()
            return self._entries.get(serial)

    def find(self, wanted: Device | None) -> list[DeviceEntry]:
        """Devices matching ``wanted`` (all of name, os, attributes); local first."""
        wanted = wanted or Device()
        if wanted.name in ("", LOCAL_DEVICE_NAME) and not wanted.os and not wanted.attributes:
            return [self.local()]
        needs_frameworks = "framework:" in str(wanted.attributes)
        entries = self.entries(probe_frameworks=needs_frameworks)
        found = [e for e in entries if e.selected_by(wanted)]
        if found or not simulate_enabled():
            return found
        twin = self.twin(wanted)  # opted in: the absent phone's SoC, simulated
        return [twin] if twin is not None else []

    def resolve(self, wanted: Device | None) -> DeviceEntry:
        """The first device matching ``wanted``, else its simulated twin when opted in.

        Raises:
            UserError: nothing matches; names what is reachable (and the twin, if any).
        """
        found = self.find(wanted)
        if found:
            return found[0]
        twin = self.twin(wanted) if wanted is not None else None
        names = ", ".join(f"{e.name} ({e.serial})" for e in self.entries(False))
        hint = (
            f"; set DEVICELAB_SIMULATE=1 (or devicelab --simulate) to run on {twin.name!r}"
            if twin is not None
            else ""
        )
        raise UserError(f"no device matches {wanted!r}; reachable devices: {names}{hint}")

    def twin(self, wanted: Device) -> DeviceEntry | None:
        """The simulated device of the SoC ``wanted`` names (a phone, SoC or chipset)."""
        if not (wanted.name or wanted.attributes):
            return None
        profile = self._named_profile(wanted)
        if profile is None or not simulatable(profile):
            return None
        self.local()
        return self._entries.get(simulated_serial(profile))

    def job_filter(self, wanted: Device) -> dict[str, Any]:
        """How a job stores its device: the twin's name when it stands in (opted in).

        The decision is made once, at submit, and kept in the job: a worker started
        without ``DEVICELAB_SIMULATE`` still runs it where the submitter meant.
        """
        if not simulate_enabled() or not (wanted.name or wanted.os or wanted.attributes):
            return wanted.as_filter()
        found = self.find(wanted)
        if not found or not found[0].simulated or found[0].selected_by(wanted):
            return wanted.as_filter()
        return {**Device(found[0].name).as_filter(), TWIN_OF_KEY: wanted.as_filter()}

    def profile_for(self, wanted: Device) -> DeviceProfile:
        """The SoC profile a compile job targets; the device need not be connected.

        Tried in order: a reachable matching device's profile, a known phone's
        name, a ``chipset:`` attribute, a profile's own name or part number.
        """
        for entry in self.find(wanted) if wanted.name or wanted.attributes else []:
            if entry.profile is not None:
                return entry.profile
        profile = self._named_profile(wanted)
        if profile is not None:
            return profile
        raise UserError(
            f"no device profile matches {wanted!r}: name a phone or SoC from device_profiles/ "
            "(e.g. Device('Samsung Galaxy S23')) or give a chipset attribute "
            "(e.g. attributes=['chipset:qualcomm-snapdragon-8gen2'])"
        )

    def compile_profile(self, wanted: Device) -> DeviceProfile:
        """The SoC profile a compile job for ``wanted`` targets: the first matching
        reachable device's (for ``Device()``, this host's: onnx and tflite targets need
        no HTP, and the QNN planner refuses a context binary for it), else
        :meth:`profile_for`'s.

        Raises:
            UserError: nothing reachable matches and ``wanted`` names no profile.
        """
        found = self.find(wanted)
        if found and found[0].profile is not None:
            return found[0].profile
        return self.profile_for(wanted)

    def _named_profile(self, wanted: Device) -> DeviceProfile | None:
        """The profile a phone name, SoC name, part number or chipset attribute names."""
        chipsets = {a.split(":", 1)[1] for a in wanted.attribute_list if a.startswith("chipset:")}
        for profile in self._profiles:
            names = {profile.name, profile.part_number, *(p.name for p in profile.phones)}
            named = wanted.name and any(name_matches(n, wanted.name) for n in names)
            phone_chipsets = {c for p in profile.phones for c in (p.chipset, *p.chipset_aliases)}
            if named or chipsets & {profile.chipset, *profile.chipset_aliases, *phone_chipsets}:
                return profile
        return None

    def local(self) -> DeviceEntry:
        """This host; created with the simulated SoCs that share its agent."""
        with self._lock:
            if LOCAL_SERIAL not in self._entries:
                props = host_props()
                local = DeviceEntry(
                    serial=LOCAL_SERIAL,
                    name=LOCAL_DEVICE_NAME,
                    os=os_version(props),
                    props=props,
                    profile=match_profile(props, self._profiles),
                    transport=LocalTransport(),
                )
                self._entries[LOCAL_SERIAL] = local
                for entry in self._simulated(local):
                    self._entries[entry.serial] = entry
            return self._entries[LOCAL_SERIAL]

    def _simulated(self, local: DeviceEntry) -> list[DeviceEntry]:
        return [
            DeviceEntry(
                serial=simulated_serial(profile),
                name=simulated_name(profile),
                os=local.os,
                props=local.props,
                profile=profile,
                transport=SimulatedTransport(simulated_serial(profile), local.transport),
                simulated=True,
            )
            for profile in self._profiles
            if simulatable(profile)
        ]

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
        for serial, known in list(self._entries.items()):
            if serial != LOCAL_SERIAL and not known.simulated and serial not in online:
                self._entries.pop(serial).transport.close()
        for serial in online - set(self._entries):
            entry = self._adb_entry(serial)
            if entry is not None:
                self._entries[serial] = entry

    def _adb_serials(self) -> list[str] | None:
        """Serials of adb devices in state ``device``; None when the listing failed."""
        if not self._use_adb:
            return []
        try:
            return device_serials(adb_server_port())  # never starts a server, unlike adbutils
        except ConnectionRefusedError:  # no adb server: no adb devices
            return []
        except (OSError, ValueError) as exc:
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
