"""Everything the lab's web page shows, read from the store: one module, plain dicts.

The routes serve these dicts as JSON and the views render the same dicts as HTML,
so a page and its JSON endpoint never disagree. Nothing here writes.

Hosts: a device's host comes from this host's own device registry, from the devices
every live host's worker publishes (``controller/lab_hosts.py``), and from what the
records carry (``jobs.host``, the claiming worker's host); health is per (host, serial).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from controller.device_states import DeviceStatus
from controller.devices import DeviceRegistry
from controller.errors import Error
from controller.events import events_from_stored
from controller.job_handles import ProfileJob, job_handle
from controller.jobs import JobState
from controller.reports import render_html
from controller.store import RUNNING_STATES, EventRecord, JobRecord, Store
from controller.worker import COMPILE_SLOT, stale_after_sec

#: Jobs listed per section of the overview (the queue shows its newest this many).
QUEUE_ROWS = 100
RECENT_ROWS = 25
#: Finished jobs scanned for each device's last battery / temperature reading.
HEALTH_SCAN_ROWS = 200
#: Events listed on a job's page (its latest attempt's; the last ones when more).
EVENT_ROWS = 300
_EVENT_TEXT_CHARS = 160
_UNKNOWN_HOST = ""
_HEALTH_CACHE_ROWS = 10_000


def iso(moment: datetime | float | None) -> str | None:
    """A UTC timestamp as ISO 8601 to the second (None stays None)."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class LabData:
    """The lab as the page shows it.

    Args:
        store: the store the page reads.
        registry: this host's devices (None: only what the store's records carry).
        host: this host's name, as workers record it (``Store.host``: ``DEVICELAB_HOST``).

    Example:
        data = LabData(Store.default(), DeviceRegistry(), Store.default().host)
        data.overview()["running"]
    """

    def __init__(self, store: Store, registry: DeviceRegistry | None, host: str) -> None:
        self.store = store
        self.registry = registry
        self.host = host
        # A finished job's health readings never change: read each result once.
        self._health_of_job: dict[str, dict[str, Any] | None] = {}

    # --- the overview ---------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """Devices, the queue, running jobs and the latest finished ones."""
        queued = self.store.list_jobs(QUEUE_ROWS, state=JobState.CREATED)
        running = sorted(
            (
                job
                for state in RUNNING_STATES
                for job in self.store.list_jobs(QUEUE_ROWS, state=state)
            ),
            key=lambda job: job.started_at or job.created_at,
        )
        recent = [job for job in self.store.list_jobs(RECENT_ROWS * 4) if job.finished]
        devices = self._device_rows(running)
        return {
            "generated_at": iso(datetime.now(UTC)),
            "store": self.store.location,
            "hosts": _hosts(self.host, devices),
            "devices": devices,
            "queued": [job_row(job) for job in queued],
            "running": [job_row(job) for job in running],
            "recent": [job_row(job) for job in recent[:RECENT_ROWS]],
        }

    def _device_rows(self, running: list[JobRecord]) -> list[dict[str, Any]]:
        """This host's reachable devices, then devices the records name on other hosts
        (or that the health machine holds off and this host no longer lists)."""
        statuses = {status.serial: status for status in self.store.device_statuses()}
        by_host = self.store.device_statuses_by_host()
        scanned = self.store.list_jobs(HEALTH_SCAN_ROWS)
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in self.registry.entries(probe_frameworks=False) if self.registry else []:
            rows[(self.host, entry.serial)] = _device(
                entry.serial, entry.name, self.host, reachable=True, simulated=entry.simulated
            )
        for record in self.store.list_devices(live_within_s=stale_after_sec()):
            if record.host != self.host:  # another live host's (it heartbeats)
                rows[(record.host, record.serial)] = _device(
                    record.serial,
                    record.name,
                    record.host,
                    reachable=True,
                    simulated=bool(record.info.get("simulated", False)),
                )
        for job in scanned:
            host, serial = job.host or _UNKNOWN_HOST, job.device_serial
            if (
                serial
                and serial != COMPILE_SLOT
                and host != self.host
                and (host, serial) not in rows
            ):
                rows[(host, serial)] = _device(serial, serial, host, reachable=None)
        listed = {serial for _, serial in rows}
        for serial, status in statuses.items():
            if serial not in listed and not status.takes_jobs:
                host = _last_host(scanned, serial)
                rows[(host, serial)] = _device(serial, serial, host, reachable=False)
        busy = {(job.host or _UNKNOWN_HOST, job.device_serial): job.id for job in running}
        return [
            row
            | _status_fields(
                by_host.get((row["host"], row["serial"]))
                # this host's held-off device, named by no job's host
                or (statuses.get(row["serial"]) if row["host"] == _UNKNOWN_HOST else None)
                or DeviceStatus(row["serial"])
            )
            | {"job": busy.get((row["host"], row["serial"]))}
            | self._last_health(scanned, row["host"], row["serial"])
            for row in rows.values()
        ]

    def _last_health(self, jobs: Iterable[JobRecord], host: str, serial: str) -> dict[str, Any]:
        """Battery and temperature as the device's latest finished job read them after
        its run (workers store readings with results, ``controller/runners/profile.py``)."""
        for job in jobs:
            if not job.finished or job.device_serial != serial or (job.host or "") != host:
                continue
            if job.id not in self._health_of_job:
                if len(self._health_of_job) >= _HEALTH_CACHE_ROWS:
                    self._health_of_job.clear()  # a server up for months forgets old jobs
                self._health_of_job[job.id] = _health_reading(self.store.get_result(job.id))
            reading = self._health_of_job[job.id]
            if reading is not None:
                return reading | {"health_job": job.id}
        return {"battery_pct": None, "temperature_c": None, "health_at": None, "health_job": None}

    # --- one job --------------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any]:
        """The job's row, what it ran, its retries and its latest attempt's events.

        Raises:
            UserError: no job has this id.
        """
        record = self.store.get_job(job_id)
        model = self.store.get_model(record.model_id)
        events = self.store.events(job_id)
        shown = events[-EVENT_ROWS:]
        return job_row(record) | {
            "model": {"id": model.id, "name": model.name, "type": model.model_type},
            "options": record.options,
            "wanted": record.device_filter,
            "worker": record.worker_id,
            "parent": record.parent_job_id,
            "retries": record.retries,
            "events": [event_row(event) for event in shown],
            "events_total": len(events),
            # The report replays a profile job's events: a job that streamed none has none.
            "report": record.kind == "profile" and record.finished and bool(events),
        }

    def report_html(self, job_id: str) -> str | None:
        """The job's HTML report (``controller/reports``), or None while it has none."""
        record = self.store.get_job(job_id)
        handle = job_handle(self.store, record)
        if not record.finished or not isinstance(handle, ProfileJob):
            return None
        result = handle.profile_result()
        if result is None:
            return None
        return render_html(result, title=f"{record.name} ({record.id})")

    # --- regression history ---------------------------------------------------------------

    def regress_runs(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest suite runs, newest first, with each run's entries."""
        return [_with_iso_times(run) for run in self.store.list_regress_runs(limit)]

    def regress_run(self, run_id: str) -> dict[str, Any]:
        """One run with a short row per entry x device (samples left out)."""
        run = _with_iso_times(self.store.get_regress_run(run_id))
        run["results"] = [_regress_row(result) for result in run["results"]]
        return run

    def regress_entry(self, entry: str) -> dict[str, Any]:
        """An entry's series per device with its change points (``devicelab regress
        history``); ``note`` says why steps are missing when they could not be found."""
        from controller.regress.history import entry_history

        try:
            histories = [h.as_dict() for h in entry_history(self.store, entry)]
            note = ""
        except Error as exc:  # change points need apache-otava: show the series anyway
            stored = _by_device(self.store.regress_history(entry))
            histories = [_plain_history(entry, serial, points) for serial, points in stored]
            note = str(exc)
        for history in histories:
            history["points"] = [_with_iso_times(point) for point in history["points"]]
        return {"entry": entry, "devices": histories, "note": note}


# --- rows -----------------------------------------------------------------------------------


def job_row(record: JobRecord) -> dict[str, Any]:
    """A job as the lists show it."""
    wanted = record.device_filter
    asked = wanted.get("name") or " ".join(wanted.get("attributes") or ()) or "this host"
    return {
        "id": record.id,
        "kind": record.kind,
        "name": record.name,
        "state": record.state.value,
        "message": record.message,
        "device": record.device_serial or asked,
        "host": record.host or "",
        "submitter": record.submitter,
        "attempt": record.attempt,
        "created_at": iso(record.created_at),
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
        "page": f"/jobs/{record.id}",
    }


def event_row(event: EventRecord) -> dict[str, Any]:
    """An event with a one-line reading of its payload."""
    return {
        "attempt": event.attempt,
        "seq": event.seq,
        "kind": event.kind,
        "at": iso(event.created_at),
        "bytes": len(event.payload),
        "text": _event_text(event),
    }


def _event_text(event: EventRecord) -> str:
    if event.kind == "push":  # the controller's own: [bytes done, bytes total]
        try:
            done, total = json.loads(event.payload)
            return f"pushed {done} of {total} bytes"
        except (ValueError, TypeError):
            return ""
    try:  # the public form (controller.events), as a listener sees it
        text = "; ".join(repr(e) for e in events_from_stored([(event.kind, event.payload)]))
    except ValueError:
        return ""
    return text if len(text) <= _EVENT_TEXT_CHARS else text[: _EVENT_TEXT_CHARS - 1] + "…"


def _device(
    serial: str, name: str, host: str, *, reachable: bool | None, simulated: bool = False
) -> dict[str, Any]:
    """A device row; ``reachable`` None: known from another host's jobs only."""
    return {"serial": serial, "name": name, "host": host, "simulated": simulated,
            "reachable": reachable}  # fmt: skip


def _status_fields(status: DeviceStatus) -> dict[str, Any]:
    return {
        "state": status.state.value,
        "reason": status.reason,
        "since": iso(status.since),
        "failed_recoveries": status.failed_recoveries,
    }


def _health_reading(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """Battery % and the hottest temperature of the reading after a run (else before)."""
    health = ((result or {}).get("devicelab") or {}).get("device_health") or {}
    for when in ("after", "before"):
        reading = health.get(when) or {}
        battery = reading.get("battery_level")
        temperature = reading.get("max_temperature_c", reading.get("battery_temperature_c"))
        if battery is not None or temperature is not None:
            return {
                "battery_pct": battery,
                "temperature_c": temperature,
                "health_at": iso(reading.get("taken_at")),
            }
    return None


def _last_host(jobs: Iterable[JobRecord], serial: str) -> str:
    return next((job.host or "" for job in jobs if job.device_serial == serial), _UNKNOWN_HOST)


def _hosts(this_host: str, devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hosts the devices are on, this one first, with how many devices each."""
    counts: dict[str, int] = {this_host: 0}
    for device in devices:
        counts[device["host"]] = counts.get(device["host"], 0) + 1
    return [
        {"name": name, "devices": n, "this_host": name == this_host} for name, n in counts.items()
    ]


def _with_iso_times(found: dict[str, Any]) -> dict[str, Any]:
    """The store's float timestamps of a regression record as ISO 8601."""
    keys = ("started_at", "finished_at", "created_at")
    return found | {key: iso(found[key]) for key in keys if key in found}


def _regress_row(result: dict[str, Any]) -> dict[str, Any]:
    comparison = result.get("comparison") or {}
    return {
        "entry": result.get("entry"),
        "device_serial": result.get("device_serial"),
        "device_name": result.get("device_name") or result.get("device_serial"),
        "verdict": result.get("verdict"),
        "baseline": result.get("baseline"),
        "candidate_median_us": result.get("candidate_median_us"),
        "baseline_median_us": result.get("baseline_median_us"),
        "ratio": comparison.get("ratio"),
        "notes": result.get("notes") or [],
    }


def _by_device(results: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    series: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        series.setdefault(result["device_serial"], []).append(result)
    return list(series.items())


def _plain_history(entry: str, serial: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("run_id", "created_at", "verdict", "candidate_median_us", "baseline_median_us")
    return {
        "entry": entry,
        "device_serial": serial,
        "device_name": points[0].get("device_name", serial),
        "points": [{k: p.get(k) for k in keys} for p in points],
        "steps": [],
    }
