"""The device health state machine end to end (issue 13): phone stand-ins behind a real
adb server, the real agent on them, this process's in-process worker.

* a phone unplugged mid-job: the job is retried on another matching phone (or on the
  same one once it is back) and succeeds, its record says so; the unplugged phone goes
  suspect -> recovering -> offline, and back to available once replugged;
* a model that fails for its own reason (a corrupt model) is not retried;
* a phone whose agent cannot be brought back is quarantined with the reason, shown by
  ``devicelab devices``; its jobs go to the other phone; a person releases it;
* a phone low on battery or too hot rests: its job is held, not failed, and runs once
  it charged or cooled;
* every transition is stored with its time and reason, and listed.

Timings are set small (``DEVICELAB_RECOVERY_*``, ``DEVICELAB_HEALTH_CHECK_S``) so each
test takes seconds.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import controller as hub
from controller.api import current_store
from controller.cli import main
from controller.device_states import DeviceState
from controller.events import IterationTimes
from controller.jobs import JobState
from phone_standin.device import StandinDevice
from phone_standin.testing import (
    GALAXY_S23_PROPS,
    AdbServer,
    adb_server,
    connected_standin,
)
from tests.markers import needs_adb

pytestmark = [
    pytest.mark.adb,
    needs_adb,
]

S23 = hub.Device("Samsung Galaxy S23")
# Long enough that the job is surely mid-loop when we strike; ends in 3 s otherwise.
LONG_LOOP = "--compute_unit cpu --max_profiler_iterations 100000000 --max_profiler_time 3"
QUICK = "--compute_unit cpu --max_profiler_iterations 3"
JOB_TIMEOUT_SEC = 120
WAIT_SEC = 60


@pytest.fixture(autouse=True)
def _fast_health(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DEVICELAB_AGENT_SILENCE_S": "3",
        "DEVICELAB_DEVICE_RETRIES": "2",
        "DEVICELAB_MAX_RECOVERIES": "2",
        "DEVICELAB_RECOVERY_INTERVAL_S": "0.3",
        "DEVICELAB_RECOVERY_WAIT_S": "1",
        "DEVICELAB_HEALTH_CHECK_S": "0.3",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def adb(monkeypatch: pytest.MonkeyPatch) -> Iterator[AdbServer]:
    with adb_server() as server:
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
        yield server


def _phones(adb: AdbServer, root: Path, count: int) -> Iterator[list[StandinDevice]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(connected_standin(adb, root / f"s23-{i}", GALAXY_S23_PROPS))
            for i in range(count)
        ]


@pytest.fixture
def two_phones(adb: AdbServer, tmp_path: Path) -> Iterator[list[StandinDevice]]:
    """Two Galaxy S23 stand-ins: either may run a job for "Samsung Galaxy S23"."""
    yield from _phones(adb, tmp_path, 2)


@pytest.fixture
def phone(adb: AdbServer, tmp_path: Path) -> Iterator[StandinDevice]:
    yield from (phones[0] for phones in _phones(adb, tmp_path, 1))


def _wait_until(predicate: Callable[[], Any], what: str, timeout_sec: float = WAIT_SEC) -> Any:
    deadline = time.monotonic() + timeout_sec
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def _state(serial: str) -> DeviceState:
    return current_store().device_status(serial).state


def _path(serial: str) -> list[str]:
    """The states a device went through, from its stored transitions."""
    transitions = current_store().device_transitions(serial, limit=100)
    return [t.from_state.value for t in transitions[:1]] + [t.to_state.value for t in transitions]


def _serial_running(job: hub.Job) -> str:
    serial = current_store().get_job(job.job_id).device_serial
    assert serial is not None
    return serial


def _strike_in_the_loop(strike: Callable[[str], None]) -> tuple[Any, list[str]]:
    """A listener that calls ``strike(serial of the running device)`` once, mid-loop."""
    struck: list[str] = []

    def listener(job: Any, event: Any) -> None:
        if isinstance(event, IterationTimes) and not struck:
            struck.append(current_store().get_job(job.job_id).device_serial)
            strike(struck[0])

    return listener, struck


def _by_serial(phones: list[StandinDevice]) -> dict[str, StandinDevice]:
    return {phone.serial: phone for phone in phones}


# --- a phone unplugged mid-job ----------------------------------------------------------


def test_a_phone_unplugged_mid_job_has_the_job_retried_on_the_other_phone(
    adb: AdbServer, two_phones: list[StandinDevice], models_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    phones = _by_serial(two_phones)
    listener, struck = _strike_in_the_loop(lambda serial: phones[serial].unplug())
    job = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", S23, options=LONG_LOOP,
                                 listener=listener)  # fmt: skip
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.success, status.message
    unplugged = struck[0]
    (other,) = set(phones) - {unplugged}
    record = current_store().get_job(job.job_id)
    assert [r["device"] for r in record.retries] == [unplugged]
    assert unplugged in record.retries[0]["reason"]
    result = job.download_profile()["devicelab"]
    assert result["device"] == other and result["retries"] == record.retries
    # The unplugged phone: suspect, then each recovery fails (adb lists it no more).
    _wait_until(lambda: _state(unplugged) is DeviceState.OFFLINE, "the phone to be offline")
    assert main(["devices"]) == 0
    listing = capsys.readouterr().out
    assert f"[{unplugged}]  not reachable  offline" in listing
    assert "2 recoveries failed" in listing and "adb does not list the device" in listing
    assert main(["job", job.job_id]) == 0
    assert f"retried: device {unplugged} failed" in capsys.readouterr().out
    # Plugged back in, it recovers by itself and takes jobs again.
    phones[unplugged].replug()
    adb.connect(unplugged)
    _wait_until(lambda: _state(unplugged) is DeviceState.AVAILABLE, "the phone to recover")
    assert _path(unplugged) == [
        "available", "suspect", "recovering", "suspect", "recovering", "offline",
        "recovering", "available",
    ]  # fmt: skip
    again = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", hub.Device(unplugged),
                                   options=QUICK)  # fmt: skip
    assert again.wait(JOB_TIMEOUT_SEC).success


def test_the_same_phone_takes_its_job_back_once_replugged(
    adb: AdbServer, phone: StandinDevice, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVICELAB_RECOVERY_WAIT_S", "10")

    def unplug_for_a_second(serial: str) -> None:
        phone.unplug()
        threading.Timer(1.0, phone.replug).start()  # the recovery's adb reconnect finds it

    listener, _ = _strike_in_the_loop(unplug_for_a_second)
    job = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", S23, options=LONG_LOOP,
                                 listener=listener)  # fmt: skip
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.success, status.message
    record = current_store().get_job(job.job_id)
    assert [r["device"] for r in record.retries] == [phone.serial] == [record.device_serial]
    assert record.attempt == 2
    assert _path(phone.serial) == ["available", "suspect", "recovering", "available"]
    recovered = current_store().device_transitions(phone.serial)[-1]
    assert recovered.reason.startswith("recovered: ")
    assert current_store().device_transitions(phone.serial)[0].job_id == job.job_id


def test_a_job_whose_phone_was_unplugged_mid_run_keeps_the_iterations_it_measured(
    phone: StandinDevice, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops mid-loop: the job fails, and its partial profile is what the
    agent had streamed (rebuilt from the stored events: the run stored no result)."""
    monkeypatch.setenv("DEVICELAB_DEVICE_RETRIES", "0")  # the failed run itself, no retry
    seen_us: list[int] = []
    batches: list[IterationTimes] = []

    def unplug_after_two_batches(job: hub.ProfileJob, event: Any) -> None:
        if isinstance(event, IterationTimes):
            seen_us.extend(event.latencies_us)
            batches.append(event)
            if len(batches) == 2:
                phone.unplug()

    job = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", S23, options=LONG_LOOP,
                                 listener=unplug_after_two_batches)  # fmt: skip
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.failure and phone.serial in status.message
    assert current_store().get_result(job.job_id) is None
    partial = job.partial_profile()
    assert partial is not None
    measured = partial["execution_summary"]["all_inference_times"]
    assert len(measured) >= len(seen_us) > 0 and measured[: len(seen_us)] == seen_us
    assert partial["devicelab"]["partial"] == {"state": "FAILED", "reason": status.message}
    assert job.download_profile() == {}  # as the cloud client: a failed job has no profile


# --- a model's own failure ----------------------------------------------------------------


def test_a_corrupt_model_fails_once_and_its_device_stays_available(tmp_path: Path) -> None:
    """The model's reason: not retried, and no device is held against it."""
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"\x1c\0\0\0TFL3" + b"\x01" * 4096)  # passes the host's type check
    before = len(current_store().device_transitions("local", limit=1000))
    job = hub.submit_profile_job(corrupt, None, options=QUICK)
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.failure and "not a valid Flatbuffer" in status.message
    record = current_store().get_job(job.job_id)
    assert record.retries == [] and record.attempt == 1
    assert _state("local") is DeviceState.AVAILABLE
    assert len(current_store().device_transitions("local", limit=1000)) == before


# --- a phone that will not come back --------------------------------------------------------


def _break_agent_home(phone: StandinDevice) -> Path:
    """Kill the phone's agent and put a file where its folder was: no agent can start."""
    root = phone.host_path("/data/local/tmp/devicelab")
    phone.kill_processes()
    shutil.rmtree(root)
    root.write_text("not a folder")
    return root


def test_a_phone_that_fails_every_recovery_is_quarantined_and_its_jobs_go_elsewhere(
    two_phones: list[StandinDevice], models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    phones = _by_serial(two_phones)
    broken: list[Path] = []
    listener, struck = _strike_in_the_loop(lambda s: broken.append(_break_agent_home(phones[s])))
    job = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", S23, options=LONG_LOOP,
                                 listener=listener)  # fmt: skip
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.success, status.message
    bad = struck[0]
    (good,) = set(phones) - {bad}
    assert [r["device"] for r in current_store().get_job(job.job_id).retries] == [bad]
    quarantined = _wait_until(
        lambda: (s := current_store().device_status(bad)).state is DeviceState.QUARANTINED and s,
        "the phone to be quarantined",
    )
    assert quarantined.reason.startswith("2 recoveries failed; last: agent: ")
    assert "adb reconnect: " in quarantined.reason  # the ladder went on past the agent
    assert main(["devices", "--json"]) == 0
    rows = {row["serial"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[bad]["state"] == "quarantined" and rows[bad]["reason"] == quarantined.reason
    assert rows[good]["state"] == "available"
    assert {d.serial: d.state for d in hub.get_devices("Samsung Galaxy S23")} == {
        bad: "quarantined", good: "available"
    }  # fmt: skip
    # While it is quarantined, its jobs go to the other phone...
    elsewhere = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", S23, options=QUICK)
    assert elsewhere.wait(JOB_TIMEOUT_SEC).success
    assert _serial_running(elsewhere) == good
    # ...or wait, when only it will do; a person mends it and releases it, and they run.
    waiting = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", hub.Device(bad), options=QUICK)
    time.sleep(1.0)
    assert waiting.get_status().state is hub.JobStatus.State.CREATED
    broken[0].unlink()
    assert main(["devices", "--release", bad]) == 0
    assert "released by" in capsys.readouterr().out
    assert waiting.wait(JOB_TIMEOUT_SEC).success
    assert _path(bad)[-2:] == ["quarantined", "available"]
    assert main(["devices", "--history", bad]) == 0
    history = capsys.readouterr().out.splitlines()
    assert len(history) == len(_path(bad)) - 1
    assert f"{bad}  available -> suspect" in history[0] and f"(job {job.job_id})" in history[0]
    assert "quarantined -> available  released by" in history[-1]


# --- resting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prop", "bad", "good", "why"),
    [
        ("standin.battery.level", "5", "80", "battery 5 % < 15 %"),
        ("standin.thermal.temp", "80000", "35000", "thermal zone 'cpu-0-0-usr' at 80 °C > 65 °C"),
    ],
    ids=["low-battery", "hot"],
)
def test_a_drained_or_hot_phone_rests_and_its_job_waits_then_runs(
    phone: StandinDevice, models_dir: Path, prop: str, bad: str, good: str, why: str
) -> None:
    phone.set_prop(prop, bad)
    _wait_until(lambda: _state(phone.serial) is DeviceState.RESTING, "the phone to rest")
    assert current_store().device_status(phone.serial).reason == why
    job = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", S23, options=QUICK)
    time.sleep(1.5)  # five health readings: still resting, the job held
    record = current_store().get_job(job.job_id)
    assert record.state is JobState.CREATED, record.message  # held, not failed
    phone.set_prop(prop, good)
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.success, status.message
    assert _path(phone.serial) == ["available", "resting", "available"]
    assert (
        current_store().device_transitions(phone.serial)[-1].reason.startswith("rested: battery ")
    )
