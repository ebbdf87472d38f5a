"""A frozen agent or device must not hang a job (issue 13, defect 3).

The real local agent (a subprocess of this test's in-process worker) is frozen with
SIGSTOP mid-loop: its job process, or its main process; also before a job, mid-upload,
mid-inference, and a whole phone stand-in behind a real adb server. The job must fail
within the silence limit (``DEVICELAB_AGENT_SILENCE_S``, small here) saying why; a
short freeze followed by SIGCONT must be flagged in the result, not pass as a normal
run; quiet stages longer than the silence (heartbeats) must not fail a normal job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import psutil
import pytest
from onnx import TensorProto, helper

import controller as hub
from agent.isolation import JOB_PROCESS_NAME
from contract.handshake import TOKEN_ENV, parse_ready_line
from controller.agent_client import AgentClient, Artifact
from controller.api import current_store
from controller.errors import InternalError
from controller.events import IterationTimes, ProfileEvent
from controller.liveness import StreamLimits, StreamWatchdog, find_stalls
from controller.settings import home_dir
from phone_standin.device import StandinDevice
from phone_standin.testing import (
    GALAXY_S23_PROPS,
    adb_server,
    connected_standin,
    find_adb,
)
from protos import agent_pb2 as pb

SILENCE_S = 2.0
# The watchdog checks every silence/10; the job's end is one store write away.
MARGIN_S = 3.0
JOB_TIMEOUT_SEC = 120
LONG_LOOP = "--compute_unit cpu --max_profiler_iterations 100000000 --max_profiler_time 4"


@pytest.fixture(autouse=True)
def _short_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICELAB_AGENT_SILENCE_S", str(SILENCE_S))
    # These tests time the failure itself; its retry (once the device recovered) is
    # tests/faults/test_device_health.py's.
    monkeypatch.setenv("DEVICELAB_DEVICE_RETRIES", "0")


def _submit_and_wait_for_the_loop(model: Path) -> hub.ProfileJob:
    job = hub.submit_profile_job(model, None, options=LONG_LOOP)
    deadline = time.monotonic() + JOB_TIMEOUT_SEC
    while not any(e.kind == "iterations" for e in current_store().events(job.job_id)):
        assert not job.get_status().finished, job.get_status().message
        assert time.monotonic() < deadline, "the timed loop never started"
        time.sleep(0.02)
    return job


def _agent_and_job_process() -> tuple[psutil.Process, psutil.Process]:
    """The local agent now running a job, and that job's process (spawned child).

    Waits for it: the agent keeps the next job's process started ahead (named
    ``devicelab-ready``), and names it ``devicelab-job`` only once the job's call
    reached it (a large request may still be in transit).
    """
    deadline = time.monotonic() + JOB_TIMEOUT_SEC
    while time.monotonic() < deadline:
        for agent in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "serve" not in agent.cmdline():
                    continue
                jobs = [c for c in agent.children() if c.name() == JOB_PROCESS_NAME]
                if jobs:
                    return agent, jobs[0]
        time.sleep(0.02)
    raise AssertionError("no local agent with a running job")


@contextmanager
def frozen(process: psutil.Process) -> Iterator[float]:
    """SIGSTOP ``process``; yields the time it was stopped; SIGCONT when done."""
    process.send_signal(signal.SIGSTOP)
    try:
        yield time.monotonic()
    finally:
        if process.is_running():
            process.send_signal(signal.SIGCONT)


def _seconds_until_finished(job: hub.ProfileJob, since: float) -> float:
    while not job.get_status().finished:
        assert time.monotonic() - since < SILENCE_S + 30, "the frozen job still hangs"
        time.sleep(0.05)
    return time.monotonic() - since


def _assert_failed_for_silence(job: hub.Job, elapsed_s: float, during: str) -> str:
    """The job failed within the silence limit (and its margin) saying why; its message."""
    status = job.get_status()
    assert status.failure
    assert "no sign of life from the agent" in status.message
    assert f"during {during}" in status.message
    # Not before the silence limit (a ping sent just before the freeze may time out a
    # little earlier), nor long after it.
    assert SILENCE_S - 0.5 <= elapsed_s <= SILENCE_S + MARGIN_S
    return status.message


def test_a_frozen_job_process_fails_the_job_within_the_silence_limit(models_dir: Path) -> None:
    job = _submit_and_wait_for_the_loop(models_dir / "tiny_cnn.onnx")
    agent, child = _agent_and_job_process()
    with frozen(child) as stopped_at:
        elapsed = _seconds_until_finished(job, stopped_at)
        message = _assert_failed_for_silence(job, elapsed, "the timed loop")
        assert "job process is stopped" in message
        # The agent ends the job whose stream was cut: the frozen process is killed.
        gone, _ = psutil.wait_procs([child], timeout=15)
        assert gone, "the agent left the frozen job process running"
    assert agent.is_running()


def test_a_frozen_agent_fails_the_job_and_serves_the_next_once_resumed(models_dir: Path) -> None:
    job = _submit_and_wait_for_the_loop(models_dir / "tiny_cnn.onnx")
    agent, child = _agent_and_job_process()
    with frozen(agent) as stopped_at:
        elapsed = _seconds_until_finished(job, stopped_at)
    _assert_failed_for_silence(job, elapsed, "the timed loop")
    gone, _ = psutil.wait_procs([child], timeout=15)  # cleaned up once it runs again
    assert gone, "the resumed agent kept running the abandoned job"
    next_job = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx", None, options="--compute_unit cpu --max_profiler_iterations 5"
    )
    assert next_job.wait(JOB_TIMEOUT_SEC).success


def local_agent_process() -> psutil.Process:
    """The in-process worker's local agent (a job ran, so it is started)."""
    workdir = str(home_dir() / "local-agent")
    for process in psutil.Process().children(recursive=True):
        if "serve" in process.cmdline() and workdir in process.cmdline():
            return process
    raise AssertionError("no local agent")


def test_a_job_for_an_agent_frozen_before_it_fails_within_the_silence_limit(
    models_dir: Path,
) -> None:
    assert _quick_job(models_dir / "tiny_cnn.onnx").wait(JOB_TIMEOUT_SEC).success
    agent = local_agent_process()
    with frozen(agent) as stopped_at:
        job = _quick_job(models_dir / "tiny_cnn.onnx")
        elapsed = _seconds_until_finished(job, stopped_at)
        status = job.get_status()
        assert status.failure
        assert "no answer from the agent" in status.message
        assert elapsed <= SILENCE_S + MARGIN_S
    assert _quick_job(models_dir / "tiny_cnn.onnx").wait(JOB_TIMEOUT_SEC).success


def test_an_inference_job_on_a_frozen_agent_fails_within_the_silence_limit(
    tmp_path: Path,
) -> None:
    model = _slow_model(tmp_path / "slow.onnx")
    samples = [np.ones((1024, 1024), np.float32)] * 4  # ~2 s each: the agent is mid-job
    job = hub.submit_inference_job(model, None, inputs={"x": samples})
    while job.get_status().state is not hub.JobStatus.State.RUNNING_INFERENCE:
        assert not job.get_status().finished, job.get_status().message
        time.sleep(0.02)
    time.sleep(0.5)
    agent, child = _agent_and_job_process()
    with frozen(agent) as stopped_at:
        elapsed = _seconds_until_finished(job, stopped_at)
    _assert_failed_for_silence(job, elapsed, "inference")
    gone, _ = psutil.wait_procs([child], timeout=15)  # the resumed agent gives it up
    assert gone, "the resumed agent kept running the abandoned inference"


@pytest.fixture()
def lone_agent(tmp_path: Path) -> Iterator[tuple[AgentClient, psutil.Process]]:
    """The real agent as this test's own subprocess, with its client."""
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve", "--port", "0", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, TOKEN_ENV: "frozen-agent-token"},
    )
    try:
        assert process.stdout is not None
        ready = parse_ready_line(process.stdout.readline())
        assert ready is not None
        client = AgentClient(f"127.0.0.1:{ready[0]}", device="lone", token="frozen-agent-token")
        yield client, psutil.Process(process.pid)
        client.close()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait(10)


def test_an_upload_to_an_agent_frozen_midway_fails_within_the_silence_limit(
    tmp_path: Path, lone_agent: tuple[AgentClient, psutil.Process]
) -> None:
    client, agent = lone_agent
    big = tmp_path / "big.onnx"
    big.write_bytes(os.urandom(32 * 1024 * 1024))
    stopped_at: list[float] = []

    def freeze_at_first_chunk(done: int, total: int) -> None:
        if not stopped_at:
            agent.send_signal(signal.SIGSTOP)
            stopped_at.append(time.monotonic())

    with pytest.raises(InternalError, match="no sign of life from the agent .* during the upload"):
        client.ensure_artifact(Artifact.from_file(big), freeze_at_first_chunk)
    assert time.monotonic() - stopped_at[0] <= SILENCE_S + MARGIN_S
    # Resumed and told to stop at once, it stops (it used to ignore that SIGTERM).
    agent.send_signal(signal.SIGCONT)
    agent.terminate()
    agent.wait(5)


def _quick_job(model: Path) -> hub.ProfileJob:
    return hub.submit_profile_job(
        model, None, options="--compute_unit cpu --max_profiler_iterations 5"
    )


def test_a_short_freeze_then_resume_is_flagged_as_a_stall(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVICELAB_AGENT_SILENCE_S", "10")
    job = _submit_and_wait_for_the_loop(models_dir / "tiny_cnn.onnx")
    _, child = _agent_and_job_process()
    with frozen(child):
        time.sleep(1.5)
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.success, status.message
    extra = job.download_profile()["devicelab"]
    stalls = extra["stalls"]
    paused_s = max(
        [o["latency_us"] / 1e6 for o in stalls["outliers"]]
        + [stalls["loop_time_outside_iterations_s"]]
    )
    assert paused_s >= 1.4
    assert any("the timed loop was paused" in w for w in extra["warnings"])


def _slow_model(path: Path, matmuls: int = 144, size: int = 1024) -> Path:
    """An ONNX model whose one run takes 1.7-2.7 s on this 2-core host: a chain of MatMuls."""
    nodes, previous = [], "x"
    for i in range(matmuls):
        nodes.append(helper.make_node("MatMul", [previous, "x"], [f"y{i}"]))
        previous = f"y{i}"
    graph = helper.make_graph(
        nodes,
        "slow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [size, size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_a_normal_job_with_quiet_stages_longer_than_the_silence_is_unaffected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    silence_s = 1.0
    monkeypatch.setenv("DEVICELAB_AGENT_SILENCE_S", str(silence_s))
    job = hub.submit_profile_job(
        _slow_model(tmp_path / "slow.onnx"),
        None,
        options="--compute_unit cpu --max_profiler_iterations 1",
    )
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.success, status.message
    profile = job.download_profile()
    # Each iteration sends nothing while it runs: only heartbeats kept the job alive.
    assert min(profile["execution_summary"]["all_inference_times"]) > silence_s * 1e6
    assert "stalls" not in profile["devicelab"]


def test_a_timed_loop_far_past_its_budget_fails_with_that_reason() -> None:
    now = [0.0]
    limits = StreamLimits(silence_s=30.0, stage_grace_s=1.0)
    watchdog = StreamWatchdog(limits, max_time_s=5.0, expire=lambda: None, clock=lambda: now[0])
    inference = pb.ProfileEvent(stage_started=pb.StageStarted(stage=pb.STAGE_INFERENCE))
    beat = pb.ProfileEvent(heartbeat=pb.Heartbeat(process_state="running"))
    watchdog.saw(inference)
    for _ in range(5):  # alive all along, but 10 s into a 5 s budget
        now[0] += 2.0
        watchdog.saw(beat)
    assert watchdog.check() is None
    now[0] += 0.5
    reason = watchdog.check()
    assert reason is not None
    assert "the timed loop overran its time budget by far" in reason
    assert "--max_profiler_time 5 s" in reason


def test_loads_get_their_own_budget_not_the_loops() -> None:
    limits = StreamLimits(silence_s=30.0, load_timeout_s=1800.0)
    assert limits.stage_deadline_s("first_load", max_time_s=1.0) == 1800.0
    assert limits.stage_deadline_s("inference", max_time_s=600.0) == 1200.0
    assert limits.heartbeat_s == 2.0 and StreamLimits(silence_s=2.0).heartbeat_s == 0.5


def test_a_stopped_job_process_is_no_sign_of_life() -> None:
    now = [0.0]
    watchdog = StreamWatchdog(StreamLimits(silence_s=3.0), 10.0, lambda: None, lambda: now[0])
    stopped = pb.ProfileEvent(heartbeat=pb.Heartbeat(process_state="stopped"))
    for _ in range(4):
        now[0] += 1.0
        watchdog.saw(stopped)
    reason = watchdog.check()
    assert reason is not None and "job process is stopped" in reason
    assert "during the job's start" in reason


def test_jitter_is_not_a_stall_but_a_pause_is() -> None:
    jittery = [100, 120, 90, 2_000, 110] * 20  # 2 ms spikes on 0.1 ms: 20x, but jitter
    assert find_stalls(jittery, loop_time_s=sum(jittery) / 1e6 * 1.05) is None
    paused = [*jittery, 3_000_000]
    stalls = find_stalls(paused, loop_time_s=sum(paused) / 1e6)
    assert stalls is not None and stalls["outliers"][0]["index"] == len(jittery)
    gap = find_stalls(jittery, loop_time_s=sum(jittery) / 1e6 + 2.0)
    assert gap is not None and gap["outlier_count"] == 0


# --- through adb: a phone that freezes (every process of it stopped, the link up) --------


@pytest.fixture()
def frozen_phone_standin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StandinDevice]:
    if find_adb() is None:
        pytest.skip("no `adb` on PATH (apt-get install adb)")
    with adb_server() as server:
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
        with connected_standin(server, tmp_path / "phone", GALAXY_S23_PROPS) as phone:
            yield phone


def _stop_phone(phone: StandinDevice, signum: signal.Signals) -> None:
    for pid in phone.processes.marked_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


@pytest.mark.adb
def test_a_phone_frozen_mid_job_fails_it_through_adb_and_serves_once_thawed(
    frozen_phone_standin: StandinDevice, models_dir: Path
) -> None:
    phone = frozen_phone_standin
    device = hub.Device("Samsung Galaxy S23")
    stopped_at: list[float] = []

    def freeze_in_the_loop(job: object, event: ProfileEvent) -> None:
        if isinstance(event, IterationTimes) and not stopped_at:
            _stop_phone(phone, signal.SIGSTOP)
            stopped_at.append(time.monotonic())

    job = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx", device, options=LONG_LOOP, listener=freeze_in_the_loop
    )
    try:
        status = job.wait(JOB_TIMEOUT_SEC)
        elapsed = time.monotonic() - stopped_at[0]
    finally:
        _stop_phone(phone, signal.SIGCONT)
    assert status.failure
    assert "no sign of life from the agent" in status.message and phone.serial in status.message
    assert elapsed <= SILENCE_S + MARGIN_S
    retry = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx", device, options="--max_profiler_iterations 3"
    )
    assert retry.wait(JOB_TIMEOUT_SEC).success
