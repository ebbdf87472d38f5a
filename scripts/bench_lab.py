"""A lab of many hosts on PostgreSQL: recovery after a host dies, and scale over hosts.

Each "host" is a ``devicelab worker`` process with its own ``DEVICELAB_HOME``,
``DEVICELAB_HOST``, adb server and Galaxy S23 phone stand-ins (tests/lab.py), all
on one throwaway PostgreSQL cluster (tests/postgres_server.py: fsync off).

Recovery: two hosts, one phone each. A profile job starts on one; the bench kills
that host (SIGKILL to its worker's process group) once the job is measuring and
times (a) until the job is claimed on the other host, (b) until it measures there
again (its agent already deployed). Target: (a) <= heartbeat timeout + 5 s.

Scale: ``--devices`` stand-ins spread evenly over 1, 2 and 4 hosts, against one
device on one host; a batch of tiny profile jobs (no device name, ``os:android``)
each. Every agent runs on this machine's cores, so jobs/min mixes the store's cost
with the agents' CPU. To separate them, the bench reads the CPU seconds each part
used during the batch from /proc: the workers (controller + store client), the
stand-ins with their agents (the device side), and the PostgreSQL server: per job
and as a share of the machine's cores over the batch.

Artifacts: an incompressible ``--artifact-mb`` file put from one host's store and
fetched into another's cache: MiB/s each way and the peak RSS growth.

    .venv/bin/python scripts/bench_lab.py [--stale 10] [--rounds 3] [--devices 4] [--jobs 16]
        [--artifact-mb 256] [--only recovery|artifacts|scale]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.jobs import JobState  # noqa: E402
from controller.store import RUNNING_STATES, Store  # noqa: E402
from tests.lab import LabHost, client_env, lab_host  # noqa: E402

TIMEOUT_S = 300.0
RECOVERY_OPTIONS = "--compute_unit cpu --max_profiler_iterations 100000 --max_profiler_time 4"
SCALE_OPTIONS = "--compute_unit cpu --max_profiler_iterations 20"
_TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def postgres(base: Path) -> Iterator[str]:
    from tests.postgres_server import PostgresServer, pg_bin

    bin_dir = pg_bin()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL here (apt-get install postgresql)")
    server = PostgresServer(bin_dir, Path(tempfile.mkdtemp(prefix="devicelab-pg-lab-")))
    server.start()
    try:
        yield server.database_url(str(base))
    finally:
        server.stop()


# --- CPU seconds by process tree ---------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_cpu_s(roots: list[int]) -> float:
    """CPU seconds (user + system, reaped children included) of ``roots`` and descendants."""
    tree = _children()
    total = 0
    stack = list(roots)
    while stack:
        pid = stack.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        stack.extend(tree.get(pid, []))
    return total / _TICKS


def postmaster_pid(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    backend = int(row[0]) if row else 0
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


# --- recovery ----------------------------------------------------------------------------


def wait_for(store: Store, job_id: str, done: object) -> float:
    deadline = time.monotonic() + TIMEOUT_S
    while not done(store.get_job(job_id)):  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} stuck: {store.get_job(job_id)}")
        time.sleep(0.02)
    return time.monotonic()


def submit(env: dict[str, str], model: Path, options: str, device: str, count: int) -> list[str]:
    """Submit ``count`` profile jobs from a process of their own (a user's laptop)."""
    import subprocess

    target = (
        "hub.Device(attributes='os:android')"
        if device == "os:android"
        else f"hub.Device({device!r})"
    )
    code = (
        "import controller as hub\n"
        f"for _ in range({count}):\n"
        f"    print(hub.submit_profile_job({str(model)!r}, {target}, options={options!r}).job_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return out.stdout.split()


def recovery_round(
    store: Store, hosts: list[LabHost], env: dict[str, str], model: Path
) -> tuple[float, float]:
    [job_id] = submit(env, model, RECOVERY_OPTIONS, "Samsung Galaxy S23", 1)
    wait_for(store, job_id, lambda j: j.state is JobState.MEASURING_PERFORMANCE)
    first = store.get_job(job_id).host
    lost = next(h for h in hosts if h.name == first)
    killed = time.monotonic()
    lost.kill()
    claimed = wait_for(store, job_id, lambda j: j.host != first and j.state in RUNNING_STATES)
    measuring = wait_for(
        store, job_id, lambda j: j.host != first and j.state is JobState.MEASURING_PERFORMANCE
    )
    wait_for(store, job_id, lambda j: j.finished)
    if store.get_job(job_id).state is not JobState.SUCCESS:
        raise SystemExit(f"job {job_id}: {store.get_job(job_id).message}")
    return claimed - killed, measuring - killed


def bench_recovery(args: argparse.Namespace, work: Path, url: str, model: Path) -> None:
    env = client_env(work / "laptop", url, "laptop")
    store = Store(work / "observer", url=url, host="observer")
    with lab_host(work, "host-a", url) as a, lab_host(work, "host-b", url) as b:
        for host in (a, b):
            host.start_worker(args.stale)
        for host in (a, b):  # deploy each phone's agent before timing
            ids = submit(host.env(), model, SCALE_OPTIONS, host.serials[0], 1)
            wait_for(store, ids[0], lambda j: j.finished)
        figures = []
        for _ in range(args.rounds):
            claimed, measuring = recovery_round(store, [a, b], env, model)
            figures.append((claimed, measuring))
            print(
                f"  round: claimed elsewhere after {claimed:.1f} s, "
                f"measuring after {measuring:.1f} s"
            )
            for host in (a, b):
                if host.worker is not None and host.worker.poll() is not None:
                    host.start_worker(args.stale)  # the lost host comes back
    target = args.stale + 5
    print(f"\nrecovery, heartbeat timeout {args.stale:g} s (target: claimed <= {target:g} s)")
    print(f"{'':<24}{'median s':>10}{'max s':>8}")
    for label, index in (("claimed on other host", 0), ("measuring again", 1)):
        values = [f[index] for f in figures]
        print(f"{label:<24}{statistics.median(values):>10.1f}{max(values):>8.1f}")


# --- artifacts --------------------------------------------------------------------------


def bench_artifacts(args: argparse.Namespace, work: Path, url: str) -> None:
    """An incompressible artifact put on host A, fetched into host B's cache: MB/s and the
    peak RSS growth (chunks stream, so it stays far below the artifact's size)."""
    import resource

    size = args.artifact_mb << 20
    source = work / "blob.bin"
    work.mkdir(parents=True, exist_ok=True)
    with source.open("wb") as out:
        for _ in range(args.artifact_mb):
            out.write(os.urandom(1 << 20))
    a = Store(work / "a", url=url, host="host-a")
    b = Store(work / "b", url=url, host="host-b")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    sha = a.put_artifact(source)
    put_s = time.monotonic() - started
    started = time.monotonic()
    fetched = b.artifact_path(sha)
    get_s = time.monotonic() - started
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert fetched.stat().st_size == size
    print(f"\nartifact of {args.artifact_mb} MiB across hosts (1 MiB chunks)")
    print(f"  put on host A:        {put_s:6.1f} s  {args.artifact_mb / put_s:6.0f} MiB/s")
    print(f"  fetched on host B:    {get_s:6.1f} s  {args.artifact_mb / get_s:6.0f} MiB/s")
    print(f"  peak RSS growth:      {rss_growth_mb:6.0f} MiB")


# --- scale -------------------------------------------------------------------------------


@dataclass
class Batch:
    devices: int
    hosts: int
    jobs: int
    seconds: float
    worker_cpu_s: float
    device_cpu_s: float
    postgres_cpu_s: float

    @property
    def jobs_per_min(self) -> float:
        return 60 * self.jobs / self.seconds


def scale_batch(
    args: argparse.Namespace, work: Path, url: str, model: Path, devices: int, hosts: int
) -> Batch:
    store = Store(work / "observer", url=url, host="observer")
    env = client_env(work / "laptop", url, "laptop")
    per_host = [devices // hosts + (1 if i < devices % hosts else 0) for i in range(hosts)]
    with ExitStack() as stack:
        lab = [
            stack.enter_context(lab_host(work / f"d{devices}h{hosts}", f"h{i}", url, phones=n))
            for i, n in enumerate(per_host)
        ]
        for host in lab:
            host.start_worker(args.stale)
        for host in lab:  # agents deployed before timing
            for serial in host.serials:
                ids = submit(host.env(), model, SCALE_OPTIONS, serial, 1)
                wait_for(store, ids[0], lambda j: j.finished)
        workers = [h.worker.pid for h in lab if h.worker is not None]
        standins = [pid for h in lab for pid in h.standin_pids]
        pg = [postmaster_pid(url)]
        before = (tree_cpu_s(workers), tree_cpu_s(standins), tree_cpu_s(pg))
        started = time.monotonic()
        ids = submit(env, model, SCALE_OPTIONS, "os:android", args.jobs)
        for job_id in ids:
            wait_for(store, job_id, lambda j: j.finished)
        seconds = time.monotonic() - started
        after = (tree_cpu_s(workers), tree_cpu_s(standins), tree_cpu_s(pg))
    used = [b - a for a, b in zip(before, after, strict=True)]
    return Batch(devices, hosts, args.jobs, seconds, *used)


def bench_scale(args: argparse.Namespace, work: Path, url: str, model: Path) -> None:
    configs = [(1, 1)] + [(args.devices, h) for h in (1, 2, 4) if h <= args.devices]
    batches = [scale_batch(args, work, url, model, d, h) for d, h in configs]
    base = batches[0].jobs_per_min
    cores = os.cpu_count() or 1
    print(f"\nscale: {args.jobs} tiny profile jobs per batch ({SCALE_OPTIONS}), {cores} cores")
    print(
        f"{'devices':>7} {'hosts':>5} {'jobs/min':>9} {'x 1 dev':>8} "
        f"{'worker cpu s/job':>17} {'device cpu s/job':>17} {'postgres cpu s/job':>19} "
        f"{'cores busy':>10}"
    )
    for b in batches:
        busy = (b.worker_cpu_s + b.device_cpu_s + b.postgres_cpu_s) / b.seconds
        print(
            f"{b.devices:>7} {b.hosts:>5} {b.jobs_per_min:>9.1f} {b.jobs_per_min / base:>8.2f} "
            f"{b.worker_cpu_s / b.jobs:>17.3f} {b.device_cpu_s / b.jobs:>17.3f} "
            f"{b.postgres_cpu_s / b.jobs:>19.3f} {busy:>10.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stale", type=float, default=10.0, help="heartbeat timeout, s")
    parser.add_argument("--rounds", type=int, default=3, help="recovery rounds")
    parser.add_argument("--devices", type=int, default=4, help="stand-ins in the scale runs")
    parser.add_argument("--jobs", type=int, default=16, help="jobs per scale batch")
    parser.add_argument("--artifact-mb", type=int, default=256, help="artifact size, MiB")
    parser.add_argument(
        "--only", choices=("recovery", "artifacts", "scale"), help="run one part only"
    )
    args = parser.parse_args()
    from controller.samples import write_samples

    with tempfile.TemporaryDirectory(prefix="devicelab-bench-lab-") as tmp:
        work = Path(tmp)
        model = write_samples(work / "models")[0]  # tiny_cnn.onnx
        with postgres(work) as url:
            if args.only in (None, "recovery"):
                bench_recovery(args, work / "recovery", url, model)
            if args.only in (None, "artifacts"):
                bench_artifacts(args, work / "artifacts", url)
            if args.only in (None, "scale"):
                bench_scale(args, work / "scale", url, model)


if __name__ == "__main__":
    main()
