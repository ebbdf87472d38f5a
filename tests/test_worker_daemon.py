"""Jobs outlive the script that submitted them: the worker daemon, as a user meets it.

Every script here is its own process (``python -c`` with ``import controller
as hub``) on a private ``DEVICELAB_HOME``, submitting to this host's device and
exiting, as a user's scripts do; the daemon they start is a real detached
process, found through the store's lock file and ``/proc``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import daemon
from controller.jobs import JobState
from controller.store import Store

TIMEOUT_SEC = 120
QUICK = "--compute_unit cpu --max_profiler_iterations 5"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A private home; whatever daemon its scripts started is stopped afterwards."""
    home = tmp_path / "home"
    yield home
    daemon.stop_worker(home / "store")


def _env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICELAB_")}
    # The suite's local agent runs on the venv's Python (tests/conftest.py says why).
    local = os.environ.get("DEVICELAB_LOCAL_RUNTIME", "current")
    return {**env, "DEVICELAB_HOME": str(home), "DEVICELAB_LOCAL_RUNTIME": local, **settings}


def _script(home: Path, code: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import controller as hub\n" + code],
        env=_env(home, **settings),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SEC,
        check=True,
    )


def _submit_code(model: Path, options: str = QUICK) -> str:
    return f"print(hub.submit_profile_job({str(model)!r}, options={options!r}).job_id)"


def _daemons(home: Path) -> list[int]:
    """Pids of live worker daemons of this home's store (from /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"from controller.daemon import main" in b" ".join(cmdline) and (
            str(home / "store").encode() in cmdline
        ):
            pids.append(int(proc.name))
    return pids


def _wait_until(predicate: object, what: str, timeout_sec: float = TIMEOUT_SEC) -> None:
    deadline = time.monotonic() + timeout_sec
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _finished(store: Store, job_id: str) -> JobState:
    _wait_until(lambda: store.get_job(job_id).finished, f"job {job_id} to end")
    return store.get_job(job_id).state


def test_a_script_submits_and_exits_and_a_later_script_finds_the_job_done(
    home: Path, models_dir: Path
) -> None:
    started = time.monotonic()
    submit = _script(home, _submit_code(models_dir / "tiny_cnn.onnx"))
    assert time.monotonic() - started < 15  # it did not wait for the job
    job_id = submit.stdout.strip()
    assert submit.stderr == ""  # nothing printed beyond what the script printed

    later = _script(home, f"print(hub.get_job({job_id!r}).wait({TIMEOUT_SEC}).code.value)")
    assert later.stdout == "success\n" and later.stderr == ""
    assert Store(home / "store").get_result(job_id)["execution_summary"]
    assert "serving" in (home / "worker.log").read_text()  # the daemon logs to its file


def test_racing_submits_from_three_scripts_start_exactly_one_daemon(
    home: Path, models_dir: Path
) -> None:
    code = _submit_code(models_dir / "tiny_cnn.onnx")
    scripts = [
        subprocess.Popen(
            [sys.executable, "-c", "import controller as hub\n" + code],
            env=_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [script.communicate(timeout=TIMEOUT_SEC) for script in scripts]
    assert all(script.returncode == 0 for script in scripts) and [e for _, e in outputs] == [""] * 3
    time.sleep(1.0)  # a second daemon, had one been started, would be running by now
    assert _daemons(home) == [daemon.serving_pid(home / "store")]
    store = Store(home / "store")
    assert [_finished(store, out.strip()) for out, _ in outputs] == [JobState.SUCCESS] * 3


def test_the_daemon_exits_after_its_idle_period(home: Path, models_dir: Path) -> None:
    submit = _script(
        home, _submit_code(models_dir / "tiny_cnn.onnx"), DEVICELAB_WORKER_IDLE_EXIT_S="1"
    )
    _wait_until(lambda: len(_daemons(home)) == 1, "the daemon to start", 10)
    assert _finished(Store(home / "store"), submit.stdout.strip()) is JobState.SUCCESS
    _wait_until(lambda: not _daemons(home), "the idle daemon to exit", 15)
    assert daemon.serving_pid(home / "store") is None
    assert "idle for 1 s; exiting" in (home / "worker.log").read_text()


def test_a_killed_daemons_running_job_is_finished_by_the_next_daemon(
    home: Path, models_dir: Path
) -> None:
    options = "--compute_unit cpu --max_profiler_iterations 100000 --max_profiler_time 3"
    settings = {"DEVICELAB_WORKER_STALE_S": "2"}
    job_id = _script(home, _submit_code(models_dir / "tiny_cnn.onnx", options), **settings)
    job_id = job_id.stdout.strip()  # type: ignore[assignment]
    store = Store(home / "store")
    _wait_until(lambda: any(e.kind == "iterations" for e in store.events(job_id)), "measurements")
    (first,) = _daemons(home)
    os.killpg(first, signal.SIGKILL)  # the daemon and the agent it started, mid-job
    _wait_until(lambda: not _daemons(home), "the killed daemon to go")
    assert store.get_job(job_id).state is JobState.MEASURING_PERFORMANCE

    # A later script looking at the job starts the next daemon, which recovers it.
    later = _script(home, f"print(hub.get_job({job_id!r}).wait().code.value)", **settings)
    assert later.stdout == "success\n" and later.stderr == ""
    assert store.get_job(job_id).attempt == 2
    assert _daemons(home) != [first]


def test_listener_and_upload_progress_are_fed_from_the_daemons_events(
    home: Path, models_dir: Path
) -> None:
    code = f"""
events, pushes = [], []
job = hub.submit_profile_job({str(models_dir / "tiny_cnn.onnx")!r}, options={QUICK!r},
    listener=lambda job, event: events.append(event.WhichOneof("event")),
    upload_progress=lambda done, total: pushes.append((done, total)))
job.wait({TIMEOUT_SEC})
hub.api.wait_for_callbacks(job.job_id)
print(events[0], events[-1], pushes[-1][0] == pushes[-1][1] > 0)
"""
    out = _script(home, code)
    assert out.stdout.split() == ["stage_started", "done", "True"], out.stderr


def test_the_cli_shows_progress_of_a_job_the_daemon_runs(home: Path, models_dir: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "controller.cli", "profile", str(models_dir / "tiny_cnn.onnx")]
        + ["--options", QUICK],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SEC,
    )
    assert out.returncode == 0, out.stderr
    assert "first load" in out.stderr and "done: 5 timed iterations" in out.stderr
    assert "push [" in out.stderr  # the model went to the agent, and the bar saw it


def test_no_daemon_starts_beside_a_labs_explicit_worker(home: Path, models_dir: Path) -> None:
    lab = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "worker"],
        env=_env(home),
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_until(lambda: daemon.serving_pid(home / "store") == lab.pid, "the lab worker")
        job_id = _script(home, _submit_code(models_dir / "tiny_cnn.onnx")).stdout.strip()
        assert _finished(Store(home / "store"), job_id) is JobState.SUCCESS
        assert _daemons(home) == []
        status = subprocess.run(
            [sys.executable, "-m", "controller.cli", "worker", "--stop"],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SEC,
        )
        assert f"worker pid {lab.pid} stopped" in status.stdout
        assert lab.wait(10) == 0
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGKILL)


def test_devicelab_worker_inprocess_runs_jobs_in_the_submitting_script(
    home: Path, models_dir: Path
) -> None:
    code = (
        _submit_code(models_dir / "tiny_cnn.onnx") + "\nprint(hub.get_jobs()[0].wait().code.value)"
    )
    out = _script(home, code, DEVICELAB_WORKER="inprocess")
    assert out.stdout.split()[1] == "success" and _daemons(home) == []
    legacy = _script(
        home, _submit_code(models_dir / "tiny_cnn.onnx"), DEVICELAB_INPROCESS_WORKER="0"
    )
    assert Store(home / "store").get_job(legacy.stdout.strip()).state is JobState.CREATED
    assert _daemons(home) == []  # "none": a lab's worker will run it
