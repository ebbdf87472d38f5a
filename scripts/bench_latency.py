"""Submit -> SUCCESS latency of a tiny profile job on the local device, and where it goes.

One warm-up job (starts the local agent, uploads the model), then ``--jobs``
jobs of the tiny ONNX sample, one after another with ``--gap-s`` of idle device
between them (the agent starts the next job's process while idle:
``agent/standby.py``; ``--gap-s 0`` shows back-to-back jobs, whose process is
still importing when they arrive), each with ``--max_profiler_iterations 1``.
For each: the wall time from the ``submit_profile_job`` call until
``job.wait()`` returns SUCCESS, minus the job's own inference time (its timed
loop, from the result). Prints the median and p90 of that overhead (target:
median <= 50 ms) and a breakdown into consecutive phases, from the job
record's timestamps and the times the agent's stage events reached the store;
then the agent's own figures (loads, profiled runs), and a job's process
started now next to one started ahead: time to its first event, and its first
load (the same work either way: a process started ahead imported its runtime,
it loaded no model).

The jobs use the runner's 3 layer-profiling iterations
(``DEFAULT_LAYER_PROFILE_ITERATIONS``, ``controller/runners/profile.py``): not a user
option, so the API cannot change it.

A private ``DEVICELAB_HOME`` and a private, empty adb server: the worker lists
adb devices on every poll, and must not touch another server's devices.

    .venv/bin/python scripts/bench_latency.py [--jobs 10] [--gap-s 1]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from controller.managed import Model

OPTIONS = "--compute_unit cpu --max_profiler_iterations 1"
TARGET_OVERHEAD_S = 0.050
JOB_TIMEOUT_SEC = 120.0
SIDE_CALLS = 10  # repetitions of each provisioning step timed outside a job
CHILD_STARTS = 5  # child processes started outside a job, to time their start
AHEAD_IDLE_S = 2.0  # how long a process started ahead waits before its job (imports done)

# Consecutive phases of a job: (label, start mark, end mark). Marks are host
# times: "submit"/"seen" taken here, the others from the store (see job_marks).
PHASES: tuple[tuple[str, str, str], ...] = (
    ("submit call (model hash, job row)", "submit", "created"),
    ("queue + claim (worker poll)", "created", "claimed"),
    ("provision (ping, artifact, health, child)", "claimed", "first_load"),
    ("first + warm load", "first_load", "warmup"),
    ("warm-up + timed loop", "warmup", "layer_profile"),
    ("layer profiling (profiled runs)", "layer_profile", "done"),
    ("finish (health, result, state)", "done", "finished"),
    ("seen by job.wait()", "finished", "seen"),
)
PROVISION = PHASES[2][0]
POLL_PHASES = (PHASES[1][0], PHASES[-1][0])  # waiting on the worker's and wait()'s polls


@dataclass(frozen=True)
class JobTiming:
    """One job: host-side phase durations and the agent's own figures, in seconds."""

    phases: dict[str, float]  # label -> seconds, in PHASES order; they sum to total_s
    total_s: float  # submit call -> wait() returned SUCCESS
    inference_s: float  # the timed loop's inference times, summed
    first_load_s: float
    warm_load_s: float
    layer_runs_s: float  # the profiled iterations' wall times, summed

    @property
    def overhead_s(self) -> float:
        return self.total_s - self.inference_s


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` 0.9 -> p90)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --- one job -------------------------------------------------------------------------


def stage_marks(job_id: str) -> dict[str, float]:
    """When each agent stage's first event, and the final ``done`` event, reached the store."""
    from controller.api import current_store
    from protos import agent_pb2 as pb

    marks: dict[str, float] = {}
    for record in current_store().events(job_id):
        if record.kind == "push":  # the worker's push progress, JSON, not an agent event
            continue
        event = pb.ProfileEvent.FromString(record.payload)
        if record.kind == "stage_started":
            stage = pb.Stage.Name(event.stage_started.stage).removeprefix("STAGE_").lower()
            marks.setdefault(stage, record.created_at.timestamp())
        elif record.kind == "done":
            marks["done"] = record.created_at.timestamp()
    return marks


def job_marks(job_id: str, submit: float, seen: float) -> dict[str, float]:
    """Every phase boundary of ``job_id`` as a host time (seconds since the epoch)."""
    from controller.api import current_store

    record = current_store().get_job(job_id)
    assert record.started_at is not None and record.finished_at is not None
    return {
        "submit": submit,
        "created": record.created_at.timestamp(),
        "claimed": record.started_at.timestamp(),
        **stage_marks(job_id),
        "finished": record.finished_at.timestamp(),
        "seen": seen,
    }


def timed_job(model: Model) -> JobTiming:
    """Submit one job on the local device, wait for it, and take it apart."""
    import controller as hub

    submit = time.time()  # the store's clock: its timestamps compare with ours
    job = hub.submit_profile_job(model, None, options=OPTIONS)
    assert isinstance(job, hub.ProfileJob)  # one device in, one job out
    status = job.wait(timeout=JOB_TIMEOUT_SEC)
    seen = time.time()
    if not status.success:
        raise RuntimeError(f"job {job.job_id} {status.code}: {status.message}")
    marks = job_marks(job.job_id, submit, seen)
    result = job.download_profile()
    summary, extra = result["execution_summary"], result["devicelab"]
    return JobTiming(
        phases={label: marks[end] - marks[start] for label, start, end in PHASES},
        total_s=seen - submit,
        inference_s=sum(summary["all_inference_times"]) / 1e6,
        first_load_s=summary["first_load_time"] / 1e6,
        warm_load_s=summary["warm_load_time"] / 1e6,
        layer_runs_s=sum(extra["layer_profile_wall_times_us"]) / 1e6,
    )


# --- provisioning steps timed on their own ---------------------------------------------


def median_call_s(call: Callable[[], object], times: int = SIDE_CALLS) -> float:
    """Median wall time of ``call()`` over ``times`` calls."""
    walls = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


@dataclass(frozen=True)
class ChildStart:
    """A job's process outside a job: seconds to its first event, and its first load."""

    first_event_s: float
    first_load_s: float


def child_start(model_path: Path, ahead: bool) -> ChildStart:
    """Run a job in a process as the agent does: started now, or ``AHEAD_IDLE_S`` before."""
    from agent import events
    from agent.isolation import Cancellation, JobProcess
    from agent.job_functions import profile_job
    from agent.serde import run_config_from_proto
    from agent.session import ProfilePlan
    from protos import agent_pb2 as pb

    with tempfile.TemporaryDirectory() as scratch:
        config = run_config_from_proto(pb.RunOptions(compute_units=["cpu"]), Path(scratch))
        plan = ProfilePlan(max_iterations=1, layer_profile_iterations=0)
        if ahead:
            process = JobProcess(preload=("onnxruntime",))
            time.sleep(AHEAD_IDLE_S)
        start = time.perf_counter()
        if not ahead:
            process = JobProcess()
        cancel = Cancellation()
        stream = process.run(profile_job, (model_path, config, plan), cancel)
        next(stream)  # StageStarted("first_load"): the child is up, its imports done
        elapsed = time.perf_counter() - start
        loads = [e for e in stream if isinstance(e, events.LoadDone)]
        cancel.close()
    return ChildStart(elapsed, loads[0].time_us / 1e6)


def provision_steps(model: Model, model_path: Path) -> dict[str, float]:
    """A profile job's provisioning steps on the local device, each timed alone."""
    from controller.api import current_registry, current_store
    from controller.runners import health_before, model_artifact

    entry = current_registry().local()
    client = entry.transport.connect()
    artifact = model_artifact(current_store(), model.model_id)
    return {
        "connect (agent process alive?)": median_call_s(entry.transport.connect),
        "artifact present? (gRPC)": median_call_s(lambda: client.has_artifact(artifact.sha256)),
        "health snapshot before": median_call_s(lambda: health_before(entry.transport)),
    }


def child_starts(model_path: Path) -> dict[str, list[ChildStart]]:
    """``CHILD_STARTS`` job processes started now, and as many started ahead."""
    return {
        kind: [child_start(model_path, ahead) for _ in range(CHILD_STARTS)]
        for kind, ahead in (("started now", False), ("started ahead", True))
    }


# --- report ----------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def print_row(label: str, values: Sequence[float]) -> None:
    print(f"  {label:<44} {_ms(statistics.median(values))}  {_ms(percentile(values, 0.9))}")


def print_report(
    timings: list[JobTiming], steps: dict[str, float], starts: dict[str, list[ChildStart]]
) -> None:
    """Headline against the target, then the phases, the agent's figures, the steps."""
    overheads = [t.overhead_s for t in timings]
    median, p90 = statistics.median(overheads), percentile(overheads, 0.9)
    verdict = "met" if median <= TARGET_OVERHEAD_S else "MISSED"
    print(f"\nsubmit -> SUCCESS minus the job's inference time, {len(timings)} jobs:")
    print(
        f"  median {_ms(median)}   p90 {_ms(p90)}   "
        f"target median <= {TARGET_OVERHEAD_S * 1000:.0f} ms: {verdict}"
    )
    print_phases(timings)
    print_agent_figures(timings)
    print_steps(timings, steps)
    print_child_starts(starts)


def print_phases(timings: list[JobTiming]) -> None:
    """The consecutive phases, and how much of the total is waiting on a poll."""
    from controller.job_handles import WAIT_POLL_SEC
    from controller.worker import POLL_INTERVAL_SEC

    print(f"\n  {'phase (consecutive, host clock)':<44} {'median':>10}  {'p90':>10}")
    for label, _, _ in PHASES:
        print_row(label, [t.phases[label] for t in timings])
    print_row("total (submit -> seen SUCCESS)", [t.total_s for t in timings])
    waits = [sum(t.phases[p] for p in POLL_PHASES) for t in timings]
    print_row("  of which queue and seen", waits)
    print(
        "  (in this process a submit wakes the worker and a store write wakes job.wait();"
        f" another process's are seen within {POLL_INTERVAL_SEC} s and {WAIT_POLL_SEC} s)"
    )


def print_agent_figures(timings: list[JobTiming]) -> None:
    """What the agent measured itself, from the results."""
    from controller.runners import DEFAULT_LAYER_PROFILE_ITERATIONS

    print(f"\n  {'inside those phases (agent-measured)':<44} {'median':>10}  {'p90':>10}")
    print_row("first (cold) load", [t.first_load_s for t in timings])
    print_row("warm load", [t.warm_load_s for t in timings])
    print_row("inference (timed loop, 1 iteration)", [t.inference_s for t in timings])
    print_row(
        f"{DEFAULT_LAYER_PROFILE_ITERATIONS} profiled runs (layer profiling, default)",
        [t.layer_runs_s for t in timings],
    )


def print_steps(timings: list[JobTiming], steps: dict[str, float]) -> None:
    """The provision phase's steps, each timed alone, next to the phase as the jobs saw it."""
    print(f"\n  {'provision steps, timed alone (median)':<44}")
    for label, seconds in steps.items():
        print(f"  {label:<44} {_ms(seconds)}")
    in_jobs = statistics.median(t.phases[PROVISION] for t in timings)
    print(f"  {'sum of the steps':<44} {_ms(sum(steps.values()))}")
    print(f"  {'the provision phase in the jobs (median)':<44} {_ms(in_jobs)}")


def print_child_starts(starts: dict[str, list[ChildStart]]) -> None:
    """A job's process started now and one started ahead: its start, and its first load."""
    print(f"\n  {'a job process, outside a job':<44} {'median':>10}  {'p90':>10}")
    for kind, runs in starts.items():
        print_row(f"{kind}: to its first event", [r.first_event_s for r in runs])
        print_row(f"{kind}: its first (cold) load", [r.first_load_s for r in runs])


# --- main ------------------------------------------------------------------------------


def bench(args: argparse.Namespace, work: Path) -> None:
    """Warm up, time ``args.jobs`` jobs, time the provisioning steps, print."""
    import controller as hub
    from controller.samples import write_samples

    model_path = write_samples(work)[0]  # tiny_cnn.onnx
    model = hub.upload_model(model_path)
    print(f'{model.name} on the local device, options "{OPTIONS}", {args.jobs} jobs after one')
    warm = timed_job(model)
    print(f"warm-up job (starts the agent, uploads the model): {warm.total_s:.2f} s", flush=True)
    timings = []
    for _ in range(args.jobs):
        time.sleep(args.gap_s)  # the device idles: the agent starts the next job's process
        timings.append(timed_job(model))
    print("per job, overhead (ms): " + " ".join(f"{t.overhead_s * 1000:.0f}" for t in timings))
    print(f"(idle between jobs: {args.gap_s:g} s)")
    print_report(timings, provision_steps(model, model_path), child_starts(model_path))
    print(f"\nthis machine: {os.cpu_count()} cores")


def run(args: argparse.Namespace, tmp: Path) -> None:
    """The benchmark behind a private, empty adb server; the controller stopped before it."""
    from controller import api
    from phone_standin.testing import adb_server

    with adb_server() as server:
        os.environ["ANDROID_ADB_SERVER_PORT"] = str(server.port)
        try:
            bench(args, tmp)
        finally:
            # Now, not at exit: once the adb server is gone, adbutils would start a new one.
            api.default_lab().close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument(
        "--gap-s", type=float, default=1.0, help="idle seconds before each job (0: back to back)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="devicelab-bench-latency-") as tmp:
        # Before controller is imported: a private store, and a worker in this process.
        os.environ["DEVICELAB_HOME"] = str(Path(tmp) / "home")
        os.environ["DEVICELAB_WORKER"] = "inprocess"
        # This checkout's agent on this interpreter: the managed runtime would be built
        # first in the private home (~70 s here). DEVICELAB_LOCAL_RUNTIME=managed measures
        # it (at 758e414: 47.3 ms median beyond inference, p90 53.7, 5 jobs).
        os.environ.setdefault("DEVICELAB_LOCAL_RUNTIME", "current")
        run(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
