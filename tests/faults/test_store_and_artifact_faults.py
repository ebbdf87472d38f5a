"""Faults of the lab's own data: an artifact's identity, what a failed job measured, a
damaged store. Each case is a user's day through the public API, the CLI or the real
agent over real gRPC, bounded in time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

import controller as hub
import controller.cli
from contract.handshake import TOKEN_ENV, parse_ready_line
from controller.agent_client import AgentClient, Artifact
from controller.errors import UserError
from controller.jobs import JobState
from controller.store import Store
from protos import agent_pb2 as pb

TOKEN = "fault-suite-token"
JOB_TIMEOUT_SEC = 120


# --- 5: an artifact's identity is its bytes, its type is the job's -------------------------


@pytest.fixture()
def agent(tmp_path: Path) -> Iterator[AgentClient]:
    """The real agent as a subprocess, spoken to over real gRPC."""
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve", "--port", "0", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, TOKEN_ENV: TOKEN},
    )
    try:
        assert process.stdout is not None
        ready = parse_ready_line(process.stdout.readline())
        assert ready is not None
        client = AgentClient(f"127.0.0.1:{ready[0]}", device="local", token=TOKEN)
        yield client
        client.close()
    finally:
        process.terminate()
        process.wait(10)


def _profile_events(client: AgentClient, sha256: str, filename: str) -> list[pb.ProfileEvent]:
    request = pb.ProfileRequest(
        job_id=f"job-{filename}",
        artifact_sha256=sha256,
        model_filename=filename,
        options=pb.RunOptions(compute_units=["cpu"]),
        max_iterations=2,
        max_time_s=10,
    )
    return list(client.profile(request))


def test_the_same_bytes_run_as_the_type_each_job_declares_not_as_first_stored(
    agent: AgentClient, models_dir: Path
) -> None:
    # First seen under a context binary's name, as a user's failed try leaves it.
    sha256 = agent.ensure_artifact(Artifact.from_file(models_dir / "tiny_cnn.onnx", "tiny_as.bin"))
    as_onnx = _profile_events(agent, sha256, "tiny_cnn.onnx")
    assert as_onnx[-1].WhichOneof("event") == "done", as_onnx[-1]
    as_bin = _profile_events(agent, sha256, "tiny_as.bin")
    assert as_bin[-1].WhichOneof("event") == "error"
    assert "not a QNN context binary" in as_bin[-1].error.message
    again = _profile_events(agent, sha256, "tiny_cnn.onnx")  # not poisoned by the failure
    assert again[-1].WhichOneof("event") == "done", again[-1]


def test_an_onnx_model_named_like_a_context_binary_is_refused_at_submit(
    models_dir: Path, tmp_path: Path
) -> None:
    renamed = shutil.copy(models_dir / "tiny_cnn.onnx", tmp_path / "tiny_as.bin")
    with pytest.raises(UserError, match="not a QNN context binary: the file is an ONNX model"):
        hub.submit_profile_job(renamed, options="--compute_unit cpu")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(UserError, match="not a QNN context binary"):
        hub.upload_model(garbage)
    job = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx", options="--compute_unit cpu --max_profiler_iterations 2"
    )
    status = job.wait(timeout=JOB_TIMEOUT_SEC)
    assert status.success, status.message


# --- 6: what a failed job measured can be read back ------------------------------------------

LONG_RUN = "--compute_unit cpu --max_profiler_iterations 2147483647 --max_profiler_time 30"


def _cli(
    home: Path, *args: str, timeout: float = JOB_TIMEOUT_SEC
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", *args],
        env={**os.environ, "DEVICELAB_HOME": str(home), "DEVICELAB_WORKER": "inprocess"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _wait_for(condition: Callable[[], bool], what: str, timeout_sec: float = 60) -> None:
    deadline = time.monotonic() + timeout_sec
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _timed_events(store: Store, job_id: str) -> int:
    return sum(e.kind == "iterations" for e in store.events(job_id))


def _local_agents() -> list[psutil.Process]:
    home = os.environ["DEVICELAB_HOME"]
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if "agent" in p.cmdline() and "serve" in p.cmdline() and home in " ".join(p.cmdline())
    ]


def test_a_job_whose_agent_was_killed_keeps_what_it_measured_and_reports_it_partial(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The failed run itself: with retries its job would run again once the agent is back.
    monkeypatch.setenv("DEVICELAB_DEVICE_RETRIES", "0")
    job = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", options=LONG_RUN)
    store = hub.api.current_store()
    _wait_for(lambda: _timed_events(store, job.job_id) >= 2, "timed iterations")
    for agent_process in _local_agents():
        agent_process.kill()
    status = job.wait(timeout=JOB_TIMEOUT_SEC)
    assert status.failure
    partial = job.partial_profile()
    assert partial is not None
    assert len(partial["execution_summary"]["all_inference_times"]) > 0
    assert partial["devicelab"]["partial"] == {"state": "FAILED", "reason": status.message}
    assert job.download_profile() == {}  # as the cloud client: a failed job has no profile
    out = tmp_path / "report.html"
    assert controller.cli.main(["report", job.job_id, "--out", str(out)]) == 0
    page = out.read_text()
    assert "Partial result" in page and "lost" in page


def test_cancel_of_a_job_run_by_a_clis_own_worker_keeps_its_partial_result(
    models_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    profile = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "profile", str(models_dir / "tiny_cnn.onnx")]
        + ["--options", LONG_RUN],
        env={**os.environ, "DEVICELAB_HOME": str(home), "DEVICELAB_WORKER": "inprocess"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: (home / "store").exists(), "the CLI's store")
        store = Store(home / "store")
        _wait_for(lambda: bool(store.list_jobs()), "the CLI's job")
        job_id = store.list_jobs()[0].id
        _wait_for(lambda: _timed_events(store, job_id) >= 2, "timed iterations")
        assert _cli(home, "cancel", job_id).returncode == 0
        assert profile.wait(JOB_TIMEOUT_SEC) == 1  # the job failed: cancelled
    finally:
        if profile.poll() is None:
            profile.kill()
    report = _cli(home, "report", job_id, "--out", str(tmp_path / "cancelled.html"))
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "cancelled.html").read_text()
    assert "Partial result" in page and "cancelled by the user" in page


def test_a_job_failed_after_three_worker_crashes_keeps_what_its_last_attempt_measured(
    models_dir: Path, tmp_path: Path
) -> None:
    """Three workers die mid-job (no heartbeat, as after kill -9); orphan recovery fails it."""
    now = [1_000_000.0]
    store = Store(tmp_path / "store", clock=lambda: now[0])
    model = store.add_model(models_dir / "tiny_cnn.onnx")
    job = store.create_job("profile", model.id, device_filter={"name": "Phone"})
    for crash in range(3):
        store.register_worker(f"w{crash}", pid=10_000 + crash, hostname="lab")
        claimed = store.claim_next(f"w{crash}", "R5CT1", lambda f: True)
        assert claimed is not None and claimed.id == job.id
        store.transition(job.id, JobState.MEASURING_PERFORMANCE, worker_id=f"w{crash}")
        batch = pb.IterationTimes(first_index=0, latencies_us=[900 + crash, 950, 1000])
        events = [pb.ProfileEvent(iterations=batch)]
        if crash == 2:  # the last attempt streamed nothing before its worker died
            events = []
        store.append_events(
            job.id,
            [(i, "iterations", e.SerializeToString()) for i, e in enumerate(events)],
            attempt=claimed.attempt,
        )
        now[0] += 120  # its heartbeat goes stale
        store.recover_orphans(stale_after_s=30, max_attempts=3)
    record = store.get_job(job.id)
    assert record.state is JobState.FAILED
    partial = hub.ProfileJob(store, record).partial_profile()
    assert partial is not None
    assert partial["execution_summary"]["all_inference_times"] == [901, 950, 1000]
    assert partial["devicelab"]["partial"]["reason"] == record.message


# --- 8: a damaged store is refused once, with exit 3 -----------------------------------------


def _damaged_store(home: Path, models_dir: Path) -> Path:
    """A store with a lab's worth of old jobs, then its middle pages zeroed (a disk fault)."""
    store = Store(home / "store")
    model = store.add_model(models_dir / "tiny_cnn.onnx")
    for index in range(400):
        job = store.create_job("profile", model.id, device_filter={"name": f"Phone {index}"})
        store.transition(job.id, JobState.FAILED, "an old job " + "x" * 200)
    store.close()
    db = home / "store" / "store.db"
    data = bytearray(db.read_bytes())
    pages = len(data) // 4096
    data[pages // 3 * 4096 : 2 * pages // 3 * 4096] = bytes((pages // 3) * 4096)
    db.write_bytes(bytes(data))
    return db


@pytest.mark.parametrize(
    "command",
    [["jobs"], ["models"], ["profile", "tiny_cnn.onnx", "--options", "--compute_unit cpu"]],
)
def test_a_damaged_store_is_named_once_and_exits_3(
    command: list[str], models_dir: Path, tmp_path: Path
) -> None:
    db = _damaged_store(tmp_path / "home", models_dir)
    args = [str(models_dir / a) if a.endswith(".onnx") else a for a in command]
    out = _cli(tmp_path / "home", *args, timeout=60)
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert out.stderr.count(f"store {db} is damaged") == 1, out.stderr
    assert "Traceback" not in out.stderr and "A damaged store" in out.stderr
    assert out.stdout == ""  # no listing that looks complete


def test_a_store_file_that_is_a_directory_is_named_with_exit_3(tmp_path: Path) -> None:
    db = tmp_path / "home" / "store" / "store.db"
    db.mkdir(parents=True)
    out = _cli(tmp_path / "home", "jobs", timeout=60)
    assert out.returncode == 3, out.stderr
    assert f"store {db} is a directory" in out.stderr and "Traceback" not in out.stderr
