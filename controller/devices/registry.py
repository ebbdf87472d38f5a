"""``DeviceRegistry``: the reachable devices, listed from every registered transport kind.

It iterates over the discoveries of ``controller/transports/kinds.py`` (this host,
then every adb device in state ``device``), gives each device found its profile from
``device_profiles/``, its name and its attributes, and adds the simulated SoCs that
share this host's agent (``controller/devices/simulated.py``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from controller.devices.attributes import os_version
from controller.devices.device import LOCAL_DEVICE_NAME, Device
from controller.devices.entry import DeviceEntry, frameworks_from_info
from controller.devices.filters import name_matches
from controller.devices.matching import match_profile
from controller.devices.profiles import DeviceProfile, load_profiles
from controller.devices.simulated import (
    TWIN_OF_KEY,
    simulatable,
    simulate_enabled,
    simulated_name,
    simulated_serial,
)
from controller.errors import Error, InternalError, UserError
from controller.transports.base import Discovery, FoundDevice
from controller.transports.kinds import default_discoveries
from controller.transports.local import LOCAL_SERIAL, LocalDiscovery
from controller.transports.props import PRODUCT_MODEL_KEY
from controller.transports.simulated import SimulatedTransport

log = logging.getLogger("devicelab.devices")


class DeviceRegistry:
    """Reachable devices and their transports (one transport per device)."""

    def __init__(
        self,
        discoveries: Sequence[Discovery] | None = None,
        profiles: Sequence[DeviceProfile] | None = None,
    ) -> None:
        """``discoveries``: where devices are listed from (default: every registered
        kind, ``controller/transports/kinds.py``); ``profiles``: the SoC profiles
        (default: ``device_profiles/``)."""
        self._entries: dict[str, DeviceEntry] = {}
        self._kind_of: dict[str, str] = {}  # serial -> the kind that listed it
        self._lock = threading.RLock()
        self._profiles = list(profiles) if profiles is not None else load_profiles()
        self._discoveries = list(discoveries) if discoveries is not None else default_discoveries()

    def entries(self, probe_frameworks: bool = True) -> list[DeviceEntry]:
        """Every reachable device, listed again from each transport kind; simulated SoCs last."""
        with self._lock:
            self._refresh()
            entries = sorted(self._entries.values(), key=lambda e: e.simulated)
        if probe_frameworks:
            for entry in entries:
                self.probe(entry)
        return entries

    def entry(self, serial: str) -> DeviceEntry | None:
        """The reachable device with this serial (listed again), else None."""
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
                local = self._local_discovery()
                entry = self._entry(local.open(LOCAL_SERIAL))
                self._add(local.kind, entry)
                for simulated in self._simulated(entry):
                    self._entries[simulated.serial] = simulated
            return self._entries[LOCAL_SERIAL]

    def _local_discovery(self) -> Discovery:
        for discovery in self._discoveries:
            if discovery.kind == LocalDiscovery.kind:
                return discovery
        raise InternalError("no local discovery registered: this host is always a device")

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
            self._kind_of.clear()

    def _refresh(self) -> None:
        self.local()
        for discovery in self._discoveries:
            self._refresh_kind(discovery)

    def _refresh_kind(self, discovery: Discovery) -> None:
        """Drop the devices of this kind that left, open the ones that came."""
        listed = discovery.list_serials()
        if listed is None:
            return  # the listing failed: keep what we know rather than drop live devices
        for serial, kind in list(self._kind_of.items()):
            if kind == discovery.kind and serial not in listed:
                del self._kind_of[serial]
                self._entries.pop(serial).transport.close()
        for serial in listed:
            if serial in self._entries:
                continue
            try:
                found = discovery.open(serial)
            except Error as exc:
                log.warning("[%s] cannot read properties: %s", serial, exc)
                continue
            self._add(discovery.kind, self._entry(found))

    def _add(self, kind: str, entry: DeviceEntry) -> None:
        self._entries[entry.serial] = entry
        self._kind_of[entry.serial] = kind

    def _entry(self, found: FoundDevice) -> DeviceEntry:
        """A found device named as users know it: its product's name, else its model."""
        props = found.props
        profile = match_profile(props, self._profiles)
        model = props.get(PRODUCT_MODEL_KEY, "")
        phone = profile.phone(model) if profile and model else None
        name = phone.name if phone else (model or found.serial)  # this host: "local"
        return DeviceEntry(found.serial, name, os_version(props), props, profile, found.transport)

    def probe(self, entry: DeviceEntry) -> None:
        """Ask the device's agent what it can run (starts the agent if needed)."""
        if entry.frameworks:
            return
        try:
            entry.frameworks = frameworks_from_info(entry.device_info())
        except Error as exc:
            log.warning("[%s] agent not reachable: %s", entry.serial, exc)
