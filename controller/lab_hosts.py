"""A lab of many hosts: each host's worker publishes the devices it reaches, and the
lab's devices are every live host's.

A host is live while a worker of it heartbeats within ``DEVICELAB_WORKER_STALE_S``
(the heartbeat timeout). A queued job that no live host's device accepts waits with
a message saying so and fails after ``DEVICELAB_UNPLACED_TIMEOUT_S``
(``controller/settings.py``). Frameworks (``framework:`` attributes) are learnt by
asking a device's agent, which only its own host can: across hosts, a filter's
``framework:`` attributes are not held against a device (its host's worker decides).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterable
from typing import Any

from controller import settings
from controller.devices import Device, DeviceEntry, DeviceRegistry, selects
from controller.devices.filters import matches
from controller.store import DeviceRecord, JobKind, Store

log = logging.getLogger("devicelab.lab")

_SIMULATED_KEY = "simulated"


def device_record(entry: DeviceEntry) -> DeviceRecord:
    """What a host publishes of a reachable device."""
    return DeviceRecord(
        serial=entry.serial,
        name=entry.name,
        os_version=entry.os,
        attributes=list(entry.attributes),
        info={_SIMULATED_KEY: entry.simulated},
    )


def as_device(record: DeviceRecord) -> Device:
    """A published device as ``get_devices`` returns it (with its host)."""
    return Device(
        record.name, record.os_version, tuple(record.attributes), record.serial, host=record.host
    )


def record_selected_by(record: DeviceRecord, wanted: Device) -> bool:
    """Does ``wanted`` pick the published device, ``framework:`` attributes aside?"""
    attributes = [a for a in wanted.attribute_list if not a.startswith("framework:")]
    without_frameworks = Device(wanted.name, wanted.os, tuple(attributes))
    if wanted.attribute_list and not (wanted.name or wanted.os or attributes):
        return True  # only frameworks asked for: any device may have them
    simulated = bool(record.info.get(_SIMULATED_KEY, False))
    return selects(without_frameworks, as_device(record), simulated=simulated)


def any_host_had(store: Store, wanted: Device) -> bool:
    """Has any host of the lab (alive now or not) published a device ``wanted`` picks?"""
    return any(record_selected_by(r, wanted) for r in store.list_devices())


def unplaced_filters(
    filters: Iterable[dict[str, Any]], live: list[DeviceRecord]
) -> list[dict[str, Any]]:
    """The device filters no live device accepts."""
    return [
        f for f in filters if not any(record_selected_by(r, Device.from_filter(f)) for r in live)
    ]


class LabPresence:
    """One worker's part in the lab: publish its host's devices, mark unplaceable jobs.

    Example:
        presence = LabPresence(store, registry)
        presence.publish()                 # at start, then with each heartbeat
        presence.mark_unplaced(stale_after_s=30)
    """

    def __init__(self, store: Store, registry: DeviceRegistry) -> None:
        self.store = store
        self.registry = registry
        self._published: list[DeviceRecord] | None = None

    def publish(self) -> None:
        """Publish this host's devices when they changed (liveness is the heartbeat's)."""
        records = [device_record(e) for e in self.registry.entries(probe_frameworks=False)]
        if records != self._published:
            self.store.publish_devices(records)
            self._published = records

    def mark_unplaced(self, stale_after_s: float, kinds: Collection[JobKind]) -> None:
        """Queued jobs of ``kinds`` no live host can run wait saying so, and fail in time."""
        filters = self.store.runnable_filters(kinds)
        live = self.store.list_devices(live_within_s=stale_after_s)
        unplaced = unplaced_filters(filters, live)
        for job_id in self.store.mark_unplaced(unplaced, settings.unplaced_timeout_s()):
            log.info("job %s failed: no live host has a device it asks for", job_id)


def lab_devices(
    store: Store, local: list[Device], wanted: Device, stale_after_s: float
) -> list[Device]:
    """``local`` (this host's reachable devices, already filtered) and every other live
    host's that ``wanted`` matches (no filter: all), each with its host and health."""
    statuses = store.device_statuses_by_host()
    mine = [_with_host(d, store.host, statuses) for d in local]
    others = [
        _with_host(as_device(r), r.host, statuses)
        for r in store.list_devices(live_within_s=stale_after_s)
        if r.host != store.host
        and matches(
            r.name,
            r.os_version,
            r.attributes,
            name=wanted.name,
            os=wanted.os,
            attributes=wanted.attributes,
        )
    ]
    return mine + others


def _with_host(device: Device, host: str, statuses: dict[tuple[str, str], Any]) -> Device:
    status = statuses.get((host, device.serial))
    state = status.state.value if status is not None else "available"
    reason = status.reason if status is not None else ""
    return dataclasses.replace(device, host=host, state=state, state_reason=reason)
