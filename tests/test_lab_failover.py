"""Two hosts, one PostgreSQL store, end to end: a job submitted from a third process runs
on a host that has the device; kill -9 that host mid-job and the job finishes on the
other host, exactly once. A host cut off and back (its worker frozen with SIGSTOP past
the heartbeat timeout, then resumed) finds its job taken and finished, and changes
nothing (tests/test_lab_hosts.py pins the refusal of each late write).
Each host is a real ``devicelab worker`` process with its own ``DEVICELAB_HOME``, adb
server and phone stand-in (tests/lab.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.jobs import JobState
from controller.store import RUNNING_STATES, JobRecord, Store
from tests.lab import client_env, lab_host
from tests.markers import needs_adb
from tests.postgres_server import database_url

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.adb,
    needs_adb,
]

STALE_S = 3.0  # the heartbeat timeout: short, so the test takes seconds
TIMEOUT_S = 120.0  # a bound for a hung test, not a target
PHONE = "Samsung Galaxy S23"
OPTIONS = "--compute_unit cpu --max_profiler_iterations 100000 --max_profiler_time 4"


def _submit(env: dict[str, str], model: Path) -> str:
    code = (
        "import controller as hub;"
        f"print(hub.submit_profile_job({str(model)!r}, hub.Device({PHONE!r}),"
        f" options={OPTIONS!r}).job_id)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def _wait(store: Store, job_id: str, done: Callable[[JobRecord], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not done(store.get_job(job_id)):
        assert time.monotonic() < deadline, store.get_job(job_id)
        time.sleep(0.1)


def test_a_host_killed_mid_job_hands_the_job_to_the_other_host_once(
    tmp_path: Path, models_dir: Path
) -> None:
    url = database_url(tmp_path)
    with lab_host(tmp_path, "host-a", url) as a, lab_host(tmp_path, "host-b", url) as b:
        a.start_worker(STALE_S)
        b.start_worker(STALE_S)
        submitter = client_env(tmp_path / "laptop", url, "laptop")
        listed = subprocess.run(
            [sys.executable, "-m", "controller.cli", "devices", "--json"],
            env=submitter,
            check=True,
            capture_output=True,
            text=True,
        )
        phones = {(d["host"], d["serial"]) for d in json.loads(listed.stdout)}
        assert {("host-a", a.serials[0]), ("host-b", b.serials[0])} <= phones

        job_id = _submit(submitter, models_dir / "tiny_cnn.onnx")  # uploaded from the laptop
        store = Store(tmp_path / "observer", url=url, host="observer")
        _wait(store, job_id, lambda j: j.state is JobState.MEASURING_PERFORMANCE)
        while not any(e.kind == "iterations" for e in store.events(job_id)):
            time.sleep(0.05)  # it has measured something
        first = store.get_job(job_id)
        lost, survivor = (a, b) if first.host == "host-a" else (b, a)
        lost.kill()

        _wait(store, job_id, lambda j: j.host == survivor.name and j.state in RUNNING_STATES)
        _wait(store, job_id, lambda j: j.finished)
        done = store.get_job(job_id)
        assert done.state is JobState.SUCCESS, done.message
        assert done.attempt == 2 and done.host == survivor.name
        assert done.device_serial == survivor.serials[0]
        result = store.get_result(job_id)
        assert result is not None and result["devicelab"]["device"] == survivor.serials[0]
        assert result["devicelab"]["iterations"] > 0
        # The first run's events stay under attempt 1; the second run wrote its own.
        assert any(e.kind == "iterations" for e in store.events(job_id, attempt=1))
        assert any(e.kind == "iterations" for e in store.events(job_id, attempt=2))
        store.close()


def test_a_host_cut_off_and_back_finds_its_job_taken_and_its_late_result_refused(
    tmp_path: Path, models_dir: Path
) -> None:
    url = database_url(tmp_path)
    with lab_host(tmp_path, "host-a", url) as a, lab_host(tmp_path, "host-b", url) as b:
        a.start_worker(STALE_S)
        b.start_worker(STALE_S)
        job_id = _submit(
            client_env(tmp_path / "laptop", url, "laptop"), models_dir / "tiny_cnn.onnx"
        )
        store = Store(tmp_path / "observer", url=url, host="observer")
        _wait(store, job_id, lambda j: j.state is JobState.MEASURING_PERFORMANCE)
        first = store.get_job(job_id)
        cut, survivor = (a, b) if first.host == "host-a" else (b, a)
        assert cut.worker is not None
        os.killpg(cut.worker.pid, signal.SIGSTOP)  # silent: no heartbeat, no writes
        try:
            _wait(store, job_id, lambda j: j.finished)  # taken over and finished meanwhile
        finally:
            os.killpg(cut.worker.pid, signal.SIGCONT)  # back, with its run's stream pending
        done = store.get_job(job_id)
        assert done.state is JobState.SUCCESS, done.message
        assert done.attempt == 2 and done.host == survivor.name
        deadline = time.monotonic() + TIMEOUT_S
        while cut.name not in store.live_hosts(STALE_S):  # it heartbeats again
            assert time.monotonic() < deadline, "the resumed host never heartbeat"
            time.sleep(0.1)
        time.sleep(2 * STALE_S)  # its run's pending writes come now, and are refused
        assert store.get_job(job_id) == done
        result = store.get_result(job_id)
        assert result is not None and result["devicelab"]["device"] == survivor.serials[0]
        assert cut.worker.poll() is None  # the host that came back is still serving
        store.close()
