"""The device health state machine: states, events, the one table of moves, and its settings.

What labs that run for years keep per device (FAI-PEP, mobly, device farms)::

    available ──job failed for a device reason──▶ suspect ──▶ recovering ──▶ available
        ▲  │                                          ▲            │
        │  └─battery low / too hot──▶ resting          └──failed────┤ (N failed recoveries)
        └────────cooled / charged─────────┘                         ▼
                                                     offline (not listed) / quarantined

* **suspect**: a job failed for a device reason (agent lost, adb gone, push failed);
  nothing is claimed for it until a recovery says it is well.
* **recovering**: a worker runs the recovery ladder (``controller/recovery.py``).
* **offline**: ``max_recoveries`` recoveries failed and adb no longer lists it
  (unplugged); it recovers by itself once adb lists it again.
* **quarantined**: ``max_recoveries`` recoveries failed although adb lists it; a person
  looks at it, then ``devicelab devices --release SERIAL``.
* **resting**: battery below ``rest_battery_pct`` or hotter than ``rest_temp_c``; jobs
  for it are held (queued, not failed) until it reaches the resume levels.

Pure: no store, no device, no clock of its own. ``apply(status, event, settings)``
gives the move an event makes (or None), and the store applies it atomically
(``Store.device_event``), recording each transition with its time and reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from controller import settings as lab_settings


class DeviceState(Enum):
    AVAILABLE = "available"
    SUSPECT = "suspect"
    RECOVERING = "recovering"
    RESTING = "resting"
    OFFLINE = "offline"
    QUARANTINED = "quarantined"


DEVICE_STATES = tuple(state.value for state in DeviceState)

# --- settings: their defaults and meanings are in controller/settings.py's table ---------

#: The health settings' names; README "Settings" lists them with the rest.
SETTINGS: tuple[str, ...] = (
    "DEVICELAB_DEVICE_RETRIES",
    "DEVICELAB_MAX_RECOVERIES",
    "DEVICELAB_RECOVERY_INTERVAL_S",
    "DEVICELAB_RECOVERY_WAIT_S",
    "DEVICELAB_RECOVERY_REBOOT",
    "DEVICELAB_RECOVERY_HOOK",
    "DEVICELAB_HEALTH_CHECK_S",
    "DEVICELAB_REST_BATTERY_PCT",
    "DEVICELAB_RESUME_BATTERY_PCT",
    "DEVICELAB_REST_TEMP_C",
    "DEVICELAB_RESUME_TEMP_C",
)


def _number(name: str, env: Mapping[str, str] | None) -> float:
    value = lab_settings.number(name, env)
    assert value is not None  # every health number has a default in the table
    return value


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds and timings of the machine; ``from_env()`` reads ``SETTINGS``."""

    max_retries: int
    max_recoveries: int
    recovery_interval_s: float
    recovery_wait_s: float
    allow_reboot: bool
    recovery_hook: str
    check_interval_s: float
    rest_battery_pct: float
    resume_battery_pct: float
    rest_temp_c: float
    resume_temp_c: float

    @classmethod
    def defaults(cls) -> HealthSettings:
        """The settings with nothing set: ``SETTINGS``'s defaults."""
        return cls.from_env({})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HealthSettings:
        """The settings from ``env`` (default: this process's environment).

        Raises:
            UserError: a value that does not parse, naming the variable.
        """
        return cls(
            max_retries=lab_settings.integer("DEVICELAB_DEVICE_RETRIES", env),
            max_recoveries=max(1, lab_settings.integer("DEVICELAB_MAX_RECOVERIES", env)),
            recovery_interval_s=lab_settings.seconds("DEVICELAB_RECOVERY_INTERVAL_S", env),
            recovery_wait_s=lab_settings.seconds("DEVICELAB_RECOVERY_WAIT_S", env),
            allow_reboot=lab_settings.flag("DEVICELAB_RECOVERY_REBOOT", env),
            recovery_hook=lab_settings.text("DEVICELAB_RECOVERY_HOOK", env),
            check_interval_s=lab_settings.seconds("DEVICELAB_HEALTH_CHECK_S", env),
            rest_battery_pct=_number("DEVICELAB_REST_BATTERY_PCT", env),
            resume_battery_pct=_number("DEVICELAB_RESUME_BATTERY_PCT", env),
            rest_temp_c=_number("DEVICELAB_REST_TEMP_C", env),
            resume_temp_c=_number("DEVICELAB_RESUME_TEMP_C", env),
        )

    @property
    def stale_recovery_s(self) -> float:
        """A recovery that said nothing for this long was abandoned (its worker died)."""
        return 4 * self.recovery_wait_s + 60.0


# --- status and events -------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceStatus:
    """Where a device is now. A device the store never heard of is available."""

    serial: str
    state: DeviceState = DeviceState.AVAILABLE
    reason: str = ""
    since: datetime | None = None
    failed_recoveries: int = 0

    @property
    def takes_jobs(self) -> bool:
        return self.state is DeviceState.AVAILABLE

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else None,
            "failed_recoveries": self.failed_recoveries,
        }


@dataclass(frozen=True)
class DeviceTransition:
    """One stored move of a device's state."""

    serial: str
    from_state: DeviceState
    to_state: DeviceState
    reason: str
    at: datetime
    job_id: str | None = None


@dataclass(frozen=True)
class JobFailed:
    """A job failed for a device reason (agent lost, adb gone, push failed)."""

    reason: str


@dataclass(frozen=True)
class RecoveryStarted:
    """A worker starts a recovery. With ``at`` it may also take over a recovery that
    said nothing for ``stale_recovery_s`` by then (its worker died mid-way)."""

    at: datetime | None = None


@dataclass(frozen=True)
class Recovered:
    how: str


@dataclass(frozen=True)
class RecoveryFailed:
    reason: str
    listed: bool  # adb still lists the device (else: unplugged, or it never came back)


@dataclass(frozen=True)
class HealthRead:
    """A battery / temperature snapshot (``controller/transports/health.py``)."""

    snapshot: dict[str, Any]


@dataclass(frozen=True)
class Released:
    """A person says the device is fine (``devicelab devices --release``)."""

    by: str = "a person"


Event = JobFailed | RecoveryStarted | Recovered | RecoveryFailed | HealthRead | Released


@dataclass(frozen=True)
class Move:
    to: DeviceState
    reason: str
    failed_recoveries: int


_S = DeviceState


def apply(status: DeviceStatus, event: Event, settings: HealthSettings) -> Move | None:
    """The move ``event`` makes from ``status``; None when it changes nothing.

    Example:
        apply(DeviceStatus("R5"), JobFailed("adb push failed"), HealthSettings.defaults())
        # -> Move(DeviceState.SUSPECT, "adb push failed", 0)
    """
    state, failures = status.state, status.failed_recoveries
    if isinstance(event, JobFailed):
        if state in (_S.AVAILABLE, _S.RESTING):
            return Move(_S.SUSPECT, event.reason, failures)
        return None
    if isinstance(event, RecoveryStarted):
        stale = (
            state is _S.RECOVERING
            and event.at is not None
            and status.since is not None
            and (event.at - status.since).total_seconds() >= settings.stale_recovery_s
        )
        if state in (_S.SUSPECT, _S.OFFLINE) or stale:
            attempt = min(failures, settings.max_recoveries - 1) + 1
            why = f"recovery {attempt} of {settings.max_recoveries}"
            if state is _S.SUSPECT and failures == 0:  # what made it suspect, in short
                why += f" after: {_first_line(status.reason)}"
            return Move(_S.RECOVERING, why, failures)
        return None
    if isinstance(event, Recovered):
        if state is _S.RECOVERING:
            return Move(_S.AVAILABLE, f"recovered: {event.how}", 0)
        return None
    if isinstance(event, RecoveryFailed):
        if state is not _S.RECOVERING:
            return None
        failures += 1
        if failures < settings.max_recoveries:
            return Move(_S.SUSPECT, f"recovery {failures} of {settings.max_recoveries} "
                        f"failed: {event.reason}", failures)  # fmt: skip
        final = _S.QUARANTINED if event.listed else _S.OFFLINE
        return Move(final, f"{failures} recoveries failed; last: {event.reason}", failures)
    if isinstance(event, HealthRead):
        if state is _S.AVAILABLE:
            rest = rest_reason(event.snapshot, settings)
            return Move(_S.RESTING, rest, failures) if rest else None
        if state is _S.RESTING and still_resting(event.snapshot, settings) is None:
            return Move(_S.AVAILABLE, f"rested: {reading(event.snapshot)}", failures)
        return None
    if isinstance(event, Released):
        if state is _S.AVAILABLE:
            return None
        return Move(_S.AVAILABLE, f"released by {event.by} (was {state.value})", 0)
    raise TypeError(f"not a device event: {event!r}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "?"


def rest_reason(snapshot: dict[str, Any], settings: HealthSettings) -> str | None:
    """Why an available device should rest now, or None."""
    level = snapshot.get("battery_level")
    if level is not None and level < settings.rest_battery_pct:
        return f"battery {level} % < {settings.rest_battery_pct:g} %"
    zone, temp = hottest(snapshot)
    if temp is not None and temp > settings.rest_temp_c:
        return f"{zone} at {temp:g} °C > {settings.rest_temp_c:g} °C"
    return None


def still_resting(snapshot: dict[str, Any], settings: HealthSettings) -> str | None:
    """Why a resting device must rest on (the resume levels, not the rest ones: no
    flapping at the threshold), or None when it may work again."""
    level = snapshot.get("battery_level")
    if level is not None and level < settings.resume_battery_pct:
        return f"battery {level} % < {settings.resume_battery_pct:g} %"
    zone, temp = hottest(snapshot)
    if temp is not None and temp > settings.resume_temp_c:
        return f"{zone} at {temp:g} °C > {settings.resume_temp_c:g} °C"
    return None


def hottest(snapshot: dict[str, Any]) -> tuple[str, float | None]:
    """The hottest reading of a snapshot: a thermal zone or the battery."""
    candidates = [
        (f"thermal zone {name!r}", float(value))
        for name, value in (snapshot.get("thermal_zones_c") or {}).items()
    ]
    if snapshot.get("battery_temperature_c") is not None:
        candidates.append(("the battery", float(snapshot["battery_temperature_c"])))
    if not candidates:
        return "", None
    return max(candidates, key=lambda item: item[1])


def reading(snapshot: dict[str, Any]) -> str:
    """A snapshot in a few words, for a transition's reason."""
    parts = []
    if snapshot.get("battery_level") is not None:
        parts.append(f"battery {snapshot['battery_level']} %")
    zone, temp = hottest(snapshot)
    if temp is not None:
        parts.append(f"{zone} at {temp:g} °C")
    return ", ".join(parts) or "no reading"


def recovery_due(
    status: DeviceStatus, now: datetime, settings: HealthSettings, listed: bool
) -> bool:
    """Should a worker start a recovery of this device now?

    A suspect device at once after its job failed, then every ``recovery_interval_s``;
    an offline one once adb lists it again; a recovery whose worker vanished mid-way
    after ``stale_recovery_s``.
    """
    waited = (now - status.since).total_seconds() if status.since else float("inf")
    if status.state is _S.SUSPECT:
        return status.failed_recoveries == 0 or waited >= settings.recovery_interval_s
    if status.state is _S.OFFLINE:
        return listed
    if status.state is _S.RECOVERING:
        return waited >= settings.stale_recovery_s
    return False
