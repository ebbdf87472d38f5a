"""The agent's own footprint on a device: idle between jobs, and beside a timed loop.

Starts the agent (``python -m agent serve``) from this tree, or from
``--agent-root`` (another checkout, for a before/after), on this host, and
measures it from outside, reading ``/proc``:

1. **Idle**: after one job (so the agent is as it is between jobs, with the
   next job's process started ahead: ``agent/standby.py``), wait until quiet,
   then sample for ``--idle-s`` seconds: per process (the agent, the job
   process waiting), RSS and USS, CPU % over the period, and wake-ups per
   second (voluntary context switches of all its threads: each is a sleep that
   ended), with the threads that woke; preemptions (involuntary switches: the
   CPU was taken from it) are counted apart.
2. **Beside a timed loop**: a profile job of the tiny ONNX sample looping for
   ``--loop-s`` seconds; the agent's CPU and wake-ups between the loop's start
   and end events, per thread, as seen from outside; and what the result
   records itself (``devicelab.loop_cpu``, from agents that record it).

    .venv/bin/python scripts/bench_agent_footprint.py [--idle-s 60] [--loop-s 10]
    .venv/bin/python scripts/bench_agent_footprint.py --agent-root /work/main   # before
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contract.handshake import TOKEN_ENV, parse_ready_line  # noqa: E402
from controller.agent_client import AgentClient, Artifact  # noqa: E402
from controller.samples import write_samples  # noqa: E402
from protos import agent_pb2 as pb  # noqa: E402

TOKEN = "footprint-bench"
QUIET_TIMEOUT_SEC = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- reading a process from outside ----------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One process at one moment: CPU seconds, context switches per thread, memory."""

    at: float
    cpu_s: float
    switches: dict[str, int]  # thread label -> voluntary context switches (wake-ups)
    preemptions: int  # involuntary context switches, all threads
    rss_bytes: int
    uss_bytes: int


def _thread_label(pid: int, tid: int) -> str:
    if tid == pid:
        return "main"
    try:
        return f"{Path(f'/proc/{pid}/task/{tid}/comm').read_text().strip()}#{tid}"
    except OSError:
        return f"?#{tid}"


def _switches(pid: int, tid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of thread ``tid`` so far."""
    try:
        text = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    except OSError:
        return 0, 0
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"])


def sample(process: psutil.Process, memory: bool = True) -> Sample:
    """``process`` now (``memory=False`` skips the smaps read, for quick samples)."""
    tids = [int(t) for t in os.listdir(f"/proc/{process.pid}/task")]
    times = process.cpu_times()
    full = process.memory_full_info() if memory else None
    counts = {_thread_label(process.pid, t): _switches(process.pid, t) for t in tids}
    return Sample(
        at=time.monotonic(),
        cpu_s=times.user + times.system,
        switches={label: voluntary for label, (voluntary, _) in counts.items()},
        preemptions=sum(involuntary for _, involuntary in counts.values()),
        rss_bytes=full.rss if full else 0,
        uss_bytes=full.uss if full else 0,
    )


@dataclass(frozen=True)
class Usage:
    """A process over a period: CPU %, wake-ups per second, and which threads woke."""

    seconds: float
    cpu_s: float
    wakeups: int
    by_thread: dict[str, int]
    preemptions: int
    rss_bytes: int
    uss_bytes: int

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu_s / self.seconds

    @property
    def wakeups_per_s(self) -> float:
        return self.wakeups / self.seconds


def usage(before: Sample, after: Sample) -> Usage:
    by_thread = {
        label: count - before.switches.get(label, 0)
        for label, count in after.switches.items()
        if count - before.switches.get(label, 0)
    }
    return Usage(
        seconds=after.at - before.at,
        cpu_s=after.cpu_s - before.cpu_s,
        wakeups=sum(by_thread.values()),
        by_thread=by_thread,
        preemptions=after.preemptions - before.preemptions,
        rss_bytes=max(before.rss_bytes, after.rss_bytes),
        uss_bytes=max(before.uss_bytes, after.uss_bytes),
    )


# --- the agent -------------------------------------------------------------------------


@contextmanager
def running_agent(root: Path, workdir: Path) -> Iterator[tuple[AgentClient, psutil.Process]]:
    """``python -m agent serve`` from ``root``; its client and process."""
    env = {**os.environ, TOKEN_ENV: TOKEN, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve", "--port", "0", "--workdir", str(workdir)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = parse_ready_line(process.stdout.readline())
        assert ready is not None, "the agent did not start"
        client = AgentClient(f"127.0.0.1:{ready[0]}", device="bench", token=TOKEN)
        yield client, psutil.Process(process.pid)
        client.close()
    finally:
        process.terminate()
        process.wait(10)


def job_processes(agent: psutil.Process) -> list[psutil.Process]:
    """The agent's job processes (multiprocessing's resource tracker is its other child)."""
    found = []
    for child in agent.children():
        with contextlib.suppress(psutil.Error):  # one that just ended
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
    return found


def resource_tracker(agent: psutil.Process) -> list[psutil.Process]:
    """multiprocessing's resource tracker, which ``spawn`` starts beside the job processes."""
    return [c for c in agent.children() if "resource_tracker" in " ".join(c.cmdline())]


def wait_until_quiet(processes: list[psutil.Process]) -> None:
    """Until none of ``processes`` used CPU for half a second (imports done)."""
    deadline = time.monotonic() + QUIET_TIMEOUT_SEC
    last = [-1.0] * len(processes)
    while time.monotonic() < deadline:
        now = [sum(p.cpu_times()[:2]) for p in processes]
        if now == last:
            return
        last = now
        time.sleep(0.5)
    raise RuntimeError("the agent did not settle")


def profile_request(
    sha256: str, loop_s: float, job_id: str, heartbeat_s: float = 2.0
) -> pb.ProfileRequest:
    return pb.ProfileRequest(
        job_id=job_id,
        artifact_sha256=sha256,
        model_filename="tiny_cnn.onnx",
        options=pb.RunOptions(compute_units=["cpu"]),
        max_iterations=1_000_000_000,
        max_time_s=loop_s,
        warmup_iterations=1,
        layer_profile_iterations=1,
        heartbeat_s=heartbeat_s,
    )


@dataclass(frozen=True)
class LoopRun:
    """A timed loop: the agent seen from outside, and what the agent recorded itself.

    The job process is not sampled from outside: it may have ended by the time the
    loop's end event is read here; the result carries its CPU time.
    """

    agent: Usage
    loop_time_s: float
    recorded: pb.LoopCpu | None


def timed_loop(
    client: AgentClient, agent: psutil.Process, sha: str, loop_s: float, heartbeat_s: float
) -> LoopRun:
    """One profile job; the agent sampled at the loop's start and end events."""
    stages: dict[str, Sample] = {}
    summary = None
    request = profile_request(sha, loop_s, f"footprint-loop-{heartbeat_s:g}", heartbeat_s)
    for event in client.profile(request):
        kind = event.WhichOneof("event")
        if kind == "stage_started":
            stages[pb.Stage.Name(event.stage_started.stage)] = sample(agent, memory=False)
        elif kind == "done":
            summary = event.done
        elif kind == "error":
            raise RuntimeError(event.error.message)
    assert summary is not None
    recorded = summary.loop_cpu if summary.HasField("loop_cpu") else None
    loop = usage(stages["STAGE_INFERENCE"], stages["STAGE_LAYER_PROFILE"])
    return LoopRun(loop, summary.loop_time_s, recorded)


# --- report ----------------------------------------------------------------------------


def _mib(num_bytes: int) -> str:
    return f"{num_bytes / 2**20:6.1f} MiB"


def print_usage(label: str, used: Usage, memory: bool = True) -> None:
    memory_text = f"RSS {_mib(used.rss_bytes)}  USS {_mib(used.uss_bytes)}  " if memory else ""
    print(
        f"  {label:<28} {memory_text}CPU {used.cpu_percent:6.3f} %  "
        f"({used.cpu_s * 1000:.0f} ms in {used.seconds:.0f} s)  "
        f"wake-ups {used.wakeups_per_s:5.1f}/s  preempted {used.preemptions / used.seconds:.1f}/s"
    )
    threads = sorted(used.by_thread.items(), key=lambda kv: -kv[1])
    if threads:
        per_s = ", ".join(f"{name} {count / used.seconds:.1f}" for name, count in threads)
        print(f"  {'':<28} woke (per s): {per_s}")


def print_loop(run: LoopRun, heartbeat_s: float) -> None:
    print(
        f"\nbeside a timed loop of {run.loop_time_s:.1f} s (tiny_cnn.onnx, CPU EP), "
        f"heartbeat {heartbeat_s:g} s, from /proc:"
    )
    print_usage("agent (gRPC, relay)", run.agent, memory=False)
    if run.recorded is None:
        print("  the result records no loop CPU (an agent from before devicelab.loop_cpu)")
        return
    cpu = run.recorded
    agent_s = cpu.agent_user_s + cpu.agent_system_s
    print(
        f"  recorded in the result: agent {agent_s * 1000:.1f} ms "
        f"({100 * agent_s / run.loop_time_s:.3f} % of the loop, "
        f"{cpu.agent_context_switches} context switches), "
        f"job {(cpu.job_user_s + cpu.job_system_s):.2f} s"
    )


# --- main ------------------------------------------------------------------------------


def bench(args: argparse.Namespace, work: Path) -> None:
    model = write_samples(work)[0]  # tiny_cnn.onnx
    with running_agent(args.agent_root, work / "agent") as (client, agent):
        sha = client.ensure_artifact(Artifact.from_file(model))
        for _ in client.profile(profile_request(sha, 0.2, "footprint-warm-up")):
            pass
        time.sleep(1.0)  # the agent starts the next job's process once the last one ended
        waiting = job_processes(agent)
        processes = {"agent": agent, "multiprocessing's tracker": resource_tracker(agent)[0]}
        for process in waiting:
            processes["job process waiting"] = process
        wait_until_quiet(list(processes.values()))
        before = {label: sample(p) for label, p in processes.items()}
        time.sleep(args.idle_s)
        after = {label: sample(p) for label, p in processes.items()}
        print(f"agent from {args.agent_root}, idle for {args.idle_s:.0f} s after one job:")
        for label in processes:
            print_usage(label, usage(before[label], after[label]))
        if not waiting:
            print("  (no job process waiting: this agent starts one per job)")
        for heartbeat_s in args.heartbeat_s:
            print_loop(timed_loop(client, agent, sha, args.loop_s, heartbeat_s), heartbeat_s)
    print(f"\nthis machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle-s", type=float, default=60.0)
    parser.add_argument("--loop-s", type=float, default=10.0)
    parser.add_argument(
        "--heartbeat-s",
        type=float,
        nargs="+",
        default=[2.0],
        help="heartbeats the loops ask for (2: the controller's default, controller/liveness.py)",
    )
    parser.add_argument(
        "--agent-root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the source tree whose agent runs (default: this one)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="devicelab-bench-footprint-") as tmp:
        bench(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
