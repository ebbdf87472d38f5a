"""The device health state machine as maths: every event from every state, the
thresholds with their hysteresis, when a recovery is due, and the settings' one table.
Also the recovery ladder's order, with fake devices (no adb)."""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.device_states import (
    SETTINGS,
    DeviceState,
    DeviceStatus,
    HealthRead,
    HealthSettings,
    JobFailed,
    Move,
    Recovered,
    RecoveryFailed,
    RecoveryStarted,
    Released,
    apply,
    recovery_due,
)
from controller.errors import DeviceError

S = DeviceState
SETTINGS_3 = dataclasses.replace(HealthSettings.defaults(), max_recoveries=3)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def status(state: DeviceState, failures: int = 0, reason: str = "why") -> DeviceStatus:
    return DeviceStatus("R5", state, reason, T0, failures)


def test_a_device_failure_makes_an_available_or_resting_device_suspect() -> None:
    for state in (S.AVAILABLE, S.RESTING):
        assert apply(status(state), JobFailed("adb gone"), SETTINGS_3) == Move(
            S.SUSPECT, "adb gone", 0
        )
    for state in (S.SUSPECT, S.RECOVERING, S.OFFLINE, S.QUARANTINED):
        assert apply(status(state), JobFailed("adb gone"), SETTINGS_3) is None


def test_recovery_runs_from_suspect_offline_or_a_stale_recovery_only() -> None:
    first = apply(status(S.SUSPECT, 0, "adb gone\nmore"), RecoveryStarted(), SETTINGS_3)
    assert first == Move(S.RECOVERING, "recovery 1 of 3 after: adb gone", 0)
    move = apply(status(S.SUSPECT, 1, "recovery 1 of 3 failed: x"), RecoveryStarted(), SETTINGS_3)
    assert move == Move(S.RECOVERING, "recovery 2 of 3", 1)
    assert apply(status(S.OFFLINE, 3), RecoveryStarted(), SETTINGS_3) is not None
    # A recovery under way is someone's: taken over only once it said nothing for long.
    assert apply(status(S.RECOVERING), RecoveryStarted(T0), SETTINGS_3) is None
    stale = T0 + timedelta(seconds=SETTINGS_3.stale_recovery_s)
    assert apply(status(S.RECOVERING), RecoveryStarted(stale), SETTINGS_3) is not None
    for state in (S.AVAILABLE, S.RESTING, S.QUARANTINED):
        assert apply(status(state), RecoveryStarted(), SETTINGS_3) is None


def test_a_recovery_that_works_makes_it_available_and_forgets_the_failures() -> None:
    move = apply(status(S.RECOVERING, 2), Recovered("adb reconnect"), SETTINGS_3)
    assert move == Move(S.AVAILABLE, "recovered: adb reconnect", 0)
    assert apply(status(S.SUSPECT), Recovered("x"), SETTINGS_3) is None


def test_n_failed_recoveries_quarantine_a_listed_device_and_take_an_unlisted_offline() -> None:
    current = status(S.SUSPECT, 0, "agent lost")
    for expected_failures in (1, 2):
        started = apply(current, RecoveryStarted(), SETTINGS_3)
        assert started is not None and started.to is S.RECOVERING
        current = status(S.RECOVERING, current.failed_recoveries)
        failed = apply(current, RecoveryFailed("agent: push failed", listed=True), SETTINGS_3)
        assert failed == Move(
            S.SUSPECT, f"recovery {expected_failures} of 3 failed: agent: push failed",
            expected_failures,
        )  # fmt: skip
        current = status(S.SUSPECT, expected_failures)
    last = status(S.RECOVERING, 2)
    quarantined = apply(last, RecoveryFailed("agent: push failed", listed=True), SETTINGS_3)
    assert quarantined == Move(S.QUARANTINED, "3 recoveries failed; last: agent: push failed", 3)
    offline = apply(last, RecoveryFailed("not listed", listed=False), SETTINGS_3)
    assert offline is not None and offline.to is S.OFFLINE


def test_low_battery_or_heat_rests_a_device_and_the_resume_levels_wake_it() -> None:
    settings = HealthSettings.from_env(
        {"DEVICELAB_REST_BATTERY_PCT": "15", "DEVICELAB_RESUME_BATTERY_PCT": "25",
         "DEVICELAB_REST_TEMP_C": "60", "DEVICELAB_RESUME_TEMP_C": "50"}
    )  # fmt: skip
    low = apply(status(S.AVAILABLE), HealthRead({"battery_level": 9}), settings)
    assert low == Move(S.RESTING, "battery 9 % < 15 %", 0)
    hot = apply(status(S.AVAILABLE), HealthRead({"thermal_zones_c": {"cpu": 61.5}}), settings)
    assert hot == Move(S.RESTING, "thermal zone 'cpu' at 61.5 °C > 60 °C", 0)
    warm_battery = {"battery_level": 80, "battery_temperature_c": 62.0}
    assert apply(status(S.AVAILABLE), HealthRead(warm_battery), settings) is not None
    fine = {"battery_level": 20, "thermal_zones_c": {"cpu": 55.0}}
    assert apply(status(S.AVAILABLE), HealthRead(fine), settings) is None
    # Hysteresis: between the rest and the resume levels a resting device rests on.
    assert apply(status(S.RESTING), HealthRead(fine), settings) is None
    rested = {"battery_level": 25, "thermal_zones_c": {"cpu": 50.0}}
    woke = apply(status(S.RESTING), HealthRead(rested), settings)
    assert woke is not None and woke.to is S.AVAILABLE and "battery 25 %" in woke.reason
    assert apply(status(S.AVAILABLE), HealthRead({}), settings) is None  # nothing read
    for state in (S.SUSPECT, S.RECOVERING, S.OFFLINE, S.QUARANTINED):
        assert apply(status(state), HealthRead({"battery_level": 1}), settings) is None


def test_a_person_releases_any_held_device() -> None:
    for state in (S.SUSPECT, S.RECOVERING, S.RESTING, S.OFFLINE, S.QUARANTINED):
        move = apply(status(state, 3), Released("ana"), SETTINGS_3)
        assert move == Move(S.AVAILABLE, f"released by ana (was {state.value})", 0)
    assert apply(status(S.AVAILABLE), Released(), SETTINGS_3) is None


def test_when_a_recovery_is_due() -> None:
    settings = dataclasses.replace(SETTINGS_3, recovery_interval_s=30.0, recovery_wait_s=10.0)
    soon, later = T0 + timedelta(seconds=5), T0 + timedelta(seconds=31)
    assert recovery_due(status(S.SUSPECT, 0), soon, settings, listed=True)  # its job just failed
    assert not recovery_due(status(S.SUSPECT, 1), soon, settings, listed=True)
    assert recovery_due(status(S.SUSPECT, 1), later, settings, listed=False)
    assert recovery_due(status(S.OFFLINE, 3), soon, settings, listed=True)
    assert not recovery_due(status(S.OFFLINE, 3), later, settings, listed=False)
    assert not recovery_due(status(S.RECOVERING), later, settings, listed=True)
    stale = T0 + timedelta(seconds=settings.stale_recovery_s + 1)
    assert recovery_due(status(S.RECOVERING), stale, settings, listed=True)
    for state in (S.AVAILABLE, S.RESTING, S.QUARANTINED):
        assert not recovery_due(status(state), stale, settings, listed=True)


def test_every_setting_has_its_default_in_one_table() -> None:
    assert HealthSettings.defaults() == HealthSettings.from_env({})
    assert all(name.startswith("DEVICELAB_") for name in SETTINGS)
    seconds = [name for name in SETTINGS if "INTERVAL" in name or "WAIT" in name]
    assert all(name.endswith("_S") for name in seconds)
    changed = HealthSettings.from_env({"DEVICELAB_DEVICE_RETRIES": "0",
                                       "DEVICELAB_RECOVERY_REBOOT": "1"})  # fmt: skip
    assert changed.max_retries == 0 and changed.allow_reboot


# --- the recovery ladder, with fake devices ---------------------------------------------


class FakeAdbTransport:
    """Stands for an AdbTransport (the ladder tells adb devices by their class)."""

    def __init__(self, serial: str, answers_after: str | None, log: list[str]) -> None:
        self.serial = serial
        self.answers_after = answers_after
        self.log = log

    def recover_agent(self) -> None:
        self.log.append("agent")
        if self.answers_after is None or self.answers_after not in self.log:
            raise DeviceError(f"[{self.serial}] agent unreachable")

    def reboot(self) -> None:
        self.log.append("reboot")

    def shell(self, command: str, timeout_sec: float = 30.0) -> str:
        return "1"


class FakeRegistry:
    def __init__(self, transport: Any, listed: bool = True) -> None:
        self.transport = transport
        self.listed = listed

    def entry(self, serial: str) -> Any:
        if not self.listed:
            return None
        return type("Entry", (), {"serial": serial, "transport": self.transport})()


@pytest.fixture
def ladder(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import controller.recovery as recovery

    log: list[str] = []
    monkeypatch.setattr(recovery, "AdbTransport", FakeAdbTransport)
    monkeypatch.setattr(recovery, "adb_reconnect", lambda serial: log.append("reconnect"))
    monkeypatch.setattr(
        recovery,
        "reconnect",
        lambda registry, serial, wait_s, failures: (
            log.append("reconnect"),
            registry.entry(serial),
        )[1],
    )
    monkeypatch.setattr(recovery, "_POLL_S", 0.01)
    return log


def _settings(**changes: Any) -> HealthSettings:
    return dataclasses.replace(HealthSettings.defaults(), recovery_wait_s=0.05, **changes)


def _hook(log: list[str]) -> Any:
    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        log.append("hook " + " ".join(command))
        return subprocess.CompletedProcess(command, 0, "", "")

    return run


def test_the_ladder_stops_at_the_first_rung_that_brings_the_agent_back(ladder: list[str]) -> None:
    from controller.recovery import recover_device

    registry = FakeRegistry(FakeAdbTransport("R5", "reconnect", ladder))
    outcome = recover_device(registry, "R5", _settings())  # type: ignore[arg-type]
    assert outcome.ok and outcome.detail == "adb reconnect"
    assert ladder == ["agent", "reconnect", "agent"]


def test_reboot_only_when_allowed_and_the_hook_gets_the_serial(ladder: list[str]) -> None:
    from controller.recovery import recover_device

    transport = FakeAdbTransport("R5", "hook hub-power-cycle --port 3 R5", ladder)
    registry = FakeRegistry(transport)
    settings = _settings(recovery_hook="hub-power-cycle --port 3")
    outcome = recover_device(registry, "R5", settings, run=_hook(ladder))  # type: ignore[arg-type]
    assert outcome.ok and "recovery hook" in outcome.detail
    assert "reboot" not in ladder
    ladder.clear()
    transport.answers_after = "reboot"
    outcome = recover_device(
        registry,
        "R5",
        dataclasses.replace(settings, allow_reboot=True),
        run=_hook(ladder),  # type: ignore[arg-type]
    )
    assert outcome.ok and outcome.detail == "rebooted"
    assert ladder == ["agent", "reconnect", "agent", "reboot", "agent"]


def test_a_failed_ladder_says_what_every_rung_said_and_whether_adb_lists_it(
    ladder: list[str],
) -> None:
    from controller.recovery import recover_device

    registry = FakeRegistry(FakeAdbTransport("R5", None, ladder), listed=False)
    outcome = recover_device(registry, "R5", _settings())  # type: ignore[arg-type]
    assert not outcome.ok and not outcome.listed
    assert "agent: adb does not list the device" in outcome.detail
    assert "adb reconnect: adb does not list the device" in outcome.detail


def test_adb_reconnect_is_tried_again_until_the_device_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import controller.recovery as recovery

    tries: list[str] = []
    registry = FakeRegistry(None, listed=False)

    def reconnect(serial: str) -> None:
        tries.append(serial)
        if len(tries) < 3:
            raise DeviceError("failed to connect: Connection refused")
        registry.listed = True

    monkeypatch.setattr(recovery, "adb_reconnect", reconnect)
    monkeypatch.setattr(recovery, "_POLL_S", 0.01)
    failures: list[str] = []
    entry = recovery.reconnect(registry, "127.0.0.1:5555", 5.0, failures)  # type: ignore[arg-type]
    assert entry is not None and len(tries) == 3 and failures == []
