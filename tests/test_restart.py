"""Jobs survive a controller restart: a worker killed mid-job, a new one finishes it.

The worker runs as its own process (``devicelab worker``) on a private store,
exactly as a lab runs it overnight; the test kills its whole process group
(worker and agent) while the job is measuring.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from controller.jobs import JobState
from controller.store import Store

TIMEOUT_SEC = 120


def _env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DEVICELAB_HOME": str(home),
        "DEVICELAB_WORKER": "none",
        "DEVICELAB_WORKER_STALE_S": "2",
    }


@contextmanager
def worker(home: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "worker"],
        env=_env(home),
        start_new_session=True,  # its own process group: killing it takes the agent too
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(20)


def _submit(home: Path, model: Path, options: str) -> str:
    code = (
        "import controller as hub, sys;"
        f"print(hub.submit_profile_job({str(model)!r}, options={options!r}).job_id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(home), check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


def _wait_for(store: Store, job_id: str, states: set[JobState]) -> JobState:
    deadline = time.monotonic() + TIMEOUT_SEC
    while (state := store.get_job(job_id).state) not in states:
        assert time.monotonic() < deadline, f"job still {state.value}"
        time.sleep(0.1)
    return state


def test_job_running_when_the_worker_dies_is_finished_by_the_next_worker(
    tmp_path: Path, models_dir: Path
) -> None:
    home = tmp_path / "home"
    options = "--compute_unit cpu --max_profiler_iterations 100000 --max_profiler_time 3"
    job_id = _submit(home, models_dir / "tiny_cnn.onnx", options)
    store = Store(home / "store")
    assert store.get_job(job_id).state is JobState.CREATED  # queued; no worker yet

    with worker(home) as first:
        _wait_for(store, job_id, {JobState.MEASURING_PERFORMANCE})
        while not any(e.kind == "iterations" for e in store.events(job_id)):
            time.sleep(0.05)  # it has measured something
        os.killpg(first.pid, signal.SIGKILL)  # the controller dies mid-job
        first.wait(10)
    assert store.get_job(job_id).state is JobState.MEASURING_PERFORMANCE  # not lost, not done

    with worker(home):
        state = _wait_for(store, job_id, {JobState.SUCCESS, JobState.FAILED})
    record = store.get_job(job_id)
    assert state is JobState.SUCCESS, record.message
    assert record.attempt == 2  # re-queued once, then run to the end
    assert store.get_result(job_id)["devicelab"]["iterations"] > 0
    # what the first attempt measured before the crash is kept
    assert any(e.kind == "iterations" for e in store.events(job_id, attempt=1))
