"""The agent costs a device nothing while it waits, and says what it cost during a loop.

The real local agent (started by this test's in-process worker) runs real jobs.
Between jobs it keeps the next job's process started and waiting
(``agent/standby.py``); neither it nor that process may wake while idle, and
every job still gets a process of its own, which ends with its agent. Each result
records the CPU time the job's process and the agent spent during the timed loop.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

import controller as hub
from agent.isolation import READY_PROCESS_NAME
from controller.report_text import agent_cpu_line
from tests.faults.test_frozen_agent import local_agent_process

JOB_TIMEOUT_SEC = 120
QUIET_WAIT_SEC = 30.0  # a process started ahead imports for up to ~1 s on a busy host
IDLE_SAMPLE_SEC = 2.0


def _quick_job(model: Path) -> None:
    job = hub.submit_profile_job(
        model, None, options="--compute_unit cpu --max_profiler_iterations 3"
    )
    assert isinstance(job, hub.ProfileJob)  # one device, one job
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.success, status.message


def _job_processes(agent: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in agent.children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # one just ended
            continue
    return found


def _waiting_job_process(agent: psutil.Process) -> psutil.Process:
    """The one job process the idle agent keeps started (named once it imported).

    The agent starts it once the last job's process is gone, in the background.
    """
    deadline = time.monotonic() + QUIET_WAIT_SEC
    spawned = _job_processes(agent)
    while time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):  # one just ended
            if len(spawned) == 1 and spawned[0].name() == READY_PROCESS_NAME:
                return spawned[0]
        time.sleep(0.1)
        spawned = _job_processes(agent)
    raise AssertionError(f"expected one job process waiting, found {spawned}")


def _context_switches(pid: int, tid: int) -> int:
    status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])


def _all_threads_switches(process: psutil.Process) -> int:
    return sum(_context_switches(process.pid, thread.id) for thread in process.threads())


def _wait_until_quiet(process: psutil.Process) -> None:
    """Until its CPU time stops growing (its imports are done)."""
    deadline = time.monotonic() + QUIET_WAIT_SEC
    last = -1.0
    while time.monotonic() < deadline:
        times = process.cpu_times()
        if times.user + times.system == last:
            return
        last = times.user + times.system
        time.sleep(0.3)
    raise AssertionError("the waiting job process kept using CPU")


def test_each_job_gets_a_fresh_process_started_while_the_agent_was_idle(
    models_dir: Path,
) -> None:
    _quick_job(models_dir / "tiny_cnn.onnx")
    agent = local_agent_process()
    waiting = _waiting_job_process(agent)
    _quick_job(models_dir / "tiny_cnn.onnx")
    # It exits by itself after its last event; the agent reaps it in the background.
    gone, _ = psutil.wait_procs([waiting], timeout=10)
    assert gone, "the process that ran the job outlived it"
    assert _waiting_job_process(agent).pid != waiting.pid


def test_an_idle_agent_and_the_process_it_keeps_waiting_do_not_wake(models_dir: Path) -> None:
    _quick_job(models_dir / "tiny_cnn.onnx")
    agent = local_agent_process()
    waiting = _waiting_job_process(agent)
    _wait_until_quiet(waiting)
    main_before = _context_switches(agent.pid, agent.pid)
    waiting_before = _all_threads_switches(waiting)
    time.sleep(IDLE_SAMPLE_SEC)
    # gRPC's own threads wake a few times a second (README, "The agent's footprint");
    # the agent's main thread and the waiting job process must not wake at all.
    assert _context_switches(agent.pid, agent.pid) == main_before
    assert _all_threads_switches(waiting) == waiting_before


def test_a_result_records_the_cpu_the_job_and_the_agent_spent_in_the_loop(
    models_dir: Path,
) -> None:
    job = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx",
        None,
        options="--compute_unit cpu --max_profiler_iterations 100000000 --max_profiler_time 1",
    )
    assert isinstance(job, hub.ProfileJob)
    assert job.wait(JOB_TIMEOUT_SEC).success
    extra = job.download_profile()["devicelab"]
    cpu = extra["loop_cpu"]
    # The loop runs inferences back to back: its process is on a CPU most of the loop
    # (a tenth at least, on a host shared with other work); the agent barely.
    assert cpu["job_cpu_s"] >= 0.1 * extra["loop_time_s"]
    assert 0 <= cpu["agent_cpu_s"] < cpu["job_cpu_s"]
    assert cpu["agent_share_of_loop"] == round(cpu["agent_cpu_s"] / extra["loop_time_s"], 6)


def test_the_summary_shows_the_agents_cpu_only_when_it_is_a_notable_share() -> None:
    quiet = {"agent_cpu_s": 0.0004, "agent_share_of_loop": 0.0004, "agent_context_switches": 3}
    noisy = {"agent_cpu_s": 0.2, "agent_share_of_loop": 0.05, "agent_context_switches": 900}
    assert agent_cpu_line(quiet) is None
    assert agent_cpu_line({}) is None  # a result from an agent that did not measure
    line = agent_cpu_line(noisy)
    assert line is not None and "200.0 ms" in line and "5.0%" in line


def quiet_job(seconds: float) -> Iterator[str]:
    """A job that reports once, then is quiet for ``seconds`` (a long load or iteration)."""
    yield "started"
    time.sleep(seconds)
    yield "done"


# An agent in miniature: one job's process running quiet_job, its pid printed.
_PARENT = """
from agent.isolation import Cancellation, JobProcess
from tests.test_agent_footprint import quiet_job
process = JobProcess()
for item in process.run(quiet_job, (120.0,), Cancellation()):
    print(item, process.pid, flush=True)
"""


def test_a_quiet_jobs_process_does_not_outlive_its_agent() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert parent.stdout is not None
        job = psutil.Process(int(parent.stdout.readline().split()[1]))
        parent.kill()  # as the low-memory killer would: no clean-up runs
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(job) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(job), "the job's process ran on after its agent was killed"
    finally:
        if parent.poll() is None:
            parent.kill()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE  # its new parent may not reap it
    except psutil.NoSuchProcess:
        return False
