"""Issue 13, defects 1, 2 and 4: a process never abandons a job it claimed.

Each test is a user's day in subprocesses on a private ``DEVICELAB_HOME``:
``devicelab profile`` runs side by side, a script that ends (or is sent
SIGTERM) while its in-process worker runs someone else's job, ^C / SIGTERM /
kill -9 of ``devicelab worker``, and a disk that fills up mid-job (a small
tmpfs, where this machine lets us mount one).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller import daemon
from controller.jobs import JobState
from controller.store import Store

DEVICELAB = str(Path(sys.executable).parent / "devicelab")
# Runs until the time limit: the job is surely mid-measurement when we strike.
LONG = "--compute_unit cpu --max_profiler_iterations 2147483647 --max_profiler_time {s}"
TIMEOUT_SEC = 30


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A private home; whatever worker its commands started is stopped afterwards."""
    home = tmp_path / "home"
    home.mkdir()
    yield home
    daemon.stop_worker(home / "store", timeout_sec=5)


def _env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICELAB_")}
    # The suite's local agent runs on the venv's Python (tests/conftest.py says why).
    local = os.environ.get("DEVICELAB_LOCAL_RUNTIME", "current")
    return {**env, "DEVICELAB_HOME": str(home), "DEVICELAB_LOCAL_RUNTIME": local, **settings}


def _wait_until(predicate: Callable[[], object], what: str, timeout_sec: float = 20) -> None:
    deadline = time.monotonic() + timeout_sec
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _submit(home: Path, model: Path, seconds: float) -> str:
    """Queue a profile job with no worker started (a lab's worker will take it)."""
    options = LONG.format(s=seconds)
    submit = f"hub.submit_profile_job({str(model)!r}, options={options!r})"
    code = f"import controller as hub; print({submit}.job_id)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(home, DEVICELAB_WORKER="none"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SEC,
        check=True,
    )
    return done.stdout.strip()


def _agents_of(home: Path) -> list[int]:
    """Pids of live local agents whose workdir is under ``home`` (from /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        ours = any(arg.startswith(str(home).encode()) for arg in cmdline)
        if b"agent" in cmdline and b"serve" in cmdline and state != "Z" and ours:
            pids.append(int(proc.name))
    return pids


def _measuring(store: Store, job_id: str) -> bool:
    return store.get_job(job_id).state is JobState.MEASURING_PERFORMANCE


# --- defect 1: profile runs side by side -----------------------------------------------


@pytest.mark.parametrize("count", [2, 5])
def test_profile_runs_started_together_on_one_store_all_succeed(
    home: Path, models_dir: Path, count: int
) -> None:
    """Each CLI's in-process worker may borrow another's job; none may kill it."""
    env = _env(home, DEVICELAB_WORKER="inprocess")
    cmd = [DEVICELAB, "profile", str(models_dir / "tiny_cnn.onnx"), "--quiet"]
    cmd += ["--options", LONG.format(s=1)]
    runs = []
    for _ in range(count):
        runs.append(subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True))
        time.sleep(0.3)  # as two users starting a minute apart, compressed
    outcomes = [(run.communicate(timeout=TIMEOUT_SEC)[1], run.returncode) for run in runs]
    failed = [err.strip().splitlines()[-1:] for err, code in outcomes if code != 0]
    assert not failed, f"{len(failed)} of {count} profile runs failed: {failed}"


def test_a_script_ending_mid_job_hands_the_job_back_at_once(home: Path, models_dir: Path) -> None:
    """A script whose in-process worker runs a job when it ends re-queues that job."""
    store = Store(home / "store")
    job_id = _submit(home, models_dir / "tiny_cnn.onnx", seconds=20)
    script = (
        "import time, controller as hub\n"
        "from controller.api import current_store, default_lab\n"
        "default_lab().ensure_worker()\n"  # this process's worker takes the queued job
        f"while current_store().get_job({job_id!r}).state.value != 'measuring performance':\n"
        "    time.sleep(0.05)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        env=_env(home, DEVICELAB_WORKER="inprocess"),
        timeout=TIMEOUT_SEC,
        check=True,
    )
    job = store.get_job(job_id)
    assert job.state is JobState.CREATED, job.message  # not failed, not left running
    assert "handed" in job.message and job.worker_id is None
    _wait_until(lambda: not _agents_of(home), "the script's agent to exit", 5)


def test_sigterm_of_a_script_mid_job_hands_the_job_back(home: Path, models_dir: Path) -> None:
    store = Store(home / "store")
    job_id = _submit(home, models_dir / "tiny_cnn.onnx", seconds=20)
    script = (
        "import time\nfrom controller.api import default_lab\n"
        "default_lab().ensure_worker()\ntime.sleep(60)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], env=_env(home, DEVICELAB_WORKER="inprocess")
    )
    _wait_until(lambda: _measuring(store, job_id), "the job to run")
    process.send_signal(signal.SIGTERM)
    process.wait(TIMEOUT_SEC)
    job = store.get_job(job_id)
    assert job.state is JobState.CREATED, job.message
    _wait_until(lambda: not _agents_of(home), "the script's agent to exit", 5)


# --- defect 4: signals to `devicelab worker` -------------------------------------------


def _start_worker(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [DEVICELAB, "worker"],
        env=_env(home, DEVICELAB_WORKER="none"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _worker_running_a_job(home: Path, models_dir: Path) -> tuple[Store, str, subprocess.Popen[str]]:
    """A `devicelab worker` in the middle of a 20 s profile job."""
    store = Store(home / "store")
    job_id = _submit(home, models_dir / "tiny_cnn.onnx", seconds=20)
    worker = _start_worker(home)
    _wait_until(lambda: _measuring(store, job_id), "the worker to run the job")
    return store, job_id, worker


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_a_worker_mid_job_hands_the_job_back(
    home: Path, models_dir: Path, signum: int
) -> None:
    store, job_id, worker = _worker_running_a_job(home, models_dir)
    worker.send_signal(signum)
    assert worker.wait(TIMEOUT_SEC) == 0
    job = store.get_job(job_id)
    assert job.state is JobState.CREATED, job.message  # was: failed, "connection ... lost"
    assert "handed" in job.message
    assert not _agents_of(home)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_worker_killed_takes_its_local_agent_with_it(
    home: Path, models_dir: Path, signum: int
) -> None:
    store, job_id, worker = _worker_running_a_job(home, models_dir)
    assert _agents_of(home)
    worker.send_signal(signum)
    worker.wait(TIMEOUT_SEC)
    _wait_until(lambda: not _agents_of(home), "the orphaned agent to exit", 10)


# --- defect 2: the disk fills up mid-job -----------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 20 MB tmpfs as DEVICELAB_HOME; skipped where this machine cannot mount one."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        daemon.stop_worker(mount / "store", timeout_sec=5)
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> Path:
    """Write zeros until the disk is full; returns the file to delete to free it."""
    filler = directory / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    return filler


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DEVICELAB, *args],
        env=_env(home, DEVICELAB_WORKER="none"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SEC,
    )


def test_a_full_disk_mid_job_ends_the_job_and_the_worker_serves_on(
    small_disk: Path, models_dir: Path
) -> None:
    home = small_disk
    model = home / "tiny_cnn.onnx"  # the model lives on the small disk: nothing else does
    shutil.copy(models_dir / "tiny_cnn.onnx", model)
    store = Store(home / "store")
    job_id = _submit(home, model, seconds=6)
    worker = _start_worker(home)
    try:
        _wait_until(lambda: _measuring(store, job_id), "the worker to run the job")
        time.sleep(1.0)
        filler = _fill(home)
        time.sleep(2.0)  # the job streams events into a store that cannot grow
        listing = _cli(home, "jobs")
        assert listing.returncode == 0 and job_id in listing.stdout, listing.stderr
        shown = _cli(home, "job", job_id)
        assert job_id in shown.stdout and "Traceback" not in shown.stderr, shown.stderr
        filler.unlink()
        _wait_until(lambda: store.get_job(job_id).finished, "the job to end", 15)
        job = store.get_job(job_id)
        assert "disk full" in job.message, job.message
        assert job.state is not JobState.SUCCESS
        second = _submit(home, model, seconds=0.5)  # the device is free again
        _wait_until(lambda: store.get_job(second).finished, "the next job to end", 20)
        assert store.get_job(second).state is JobState.SUCCESS, store.get_job(second).message
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(TIMEOUT_SEC)


# --- the store's side of a hand-back ---------------------------------------------------


def test_a_job_handed_back_is_queued_again_without_spending_an_attempt(
    tmp_path: Path, models_dir: Path
) -> None:
    store = Store(tmp_path / "store")
    job = store.create_job("profile", store.add_model(models_dir / "tiny_cnn.onnx").id)
    store.register_worker("w1", pid=1, hostname="lab")
    claimed = store.claim_next("w1", "local", lambda _: True)
    assert claimed is not None
    store.append_events(job.id, [(0, "load_done", b"old run")], attempt=claimed.attempt)
    queued = store.hand_back(job.id, "w1", "worker w1 handed it back (SIGINT)")
    assert queued is not None and queued.state is JobState.CREATED
    assert (queued.attempt, queued.worker_id) == (claimed.attempt, None)
    assert store.events(job.id) == []  # the next run numbers its events from 0 again
    with pytest.raises(Exception, match="no longer held"):  # the old run, writing late
        store.append_events(job.id, [(1, "iterations", b"late")], attempt=claimed.attempt)
    assert store.hand_back(job.id, "w1", "again") is None  # not its job any more
