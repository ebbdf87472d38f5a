"""Claim throughput: empty jobs through the store, PostgreSQL vs SQLite, side by side.

Each configuration gets a fresh store holding ``--jobs`` queued profile jobs
that do nothing. N worker processes (spawned, each with its own connection and
its own device) then run the store's part of a job as ``controller.worker``
does, as fast as they can: read the runnable device filters, claim, move the
job to ``measuring performance``, then to ``success`` (one read and three write
transactions per job; no agent, no events). Jobs/s is jobs / wall time from a
common start to the last process's end: the store's own cost, nothing else.
PostgreSQL runs with 1, 4 and 16 processes, SQLite (WAL) with 1 and 4.

Then fairness: 500 jobs from one submitter, then 1 from another, one worker:
at which claim the single job is taken (1 or 2 is fair; a FIFO queue says 501).

Without ``--url`` a throwaway PostgreSQL cluster is started in a temp dir (as
the tests do, tests/postgres_server.py: fsync off, so the figures are the
engine's, not the disk's) and removed at the end. The server, the workers and
this script share this host's cores; other load on it shows in the figures.

    .venv/bin/python scripts/bench_claim.py [--jobs 1000] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.jobs import JobState  # noqa: E402
from controller.store import Store  # noqa: E402

SPAWN = mp.get_context("spawn")
CONFIGS = (("sqlite", 1), ("sqlite", 4), ("postgresql", 1), ("postgresql", 4), ("postgresql", 16))
KINDS = ("profile", "inference")
FLOOD = 500


@dataclass
class Run:
    engine: str
    processes: int
    jobs: int
    seconds: float
    claim_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds


def _worker(root: str, url: str | None, index: int, start: Any) -> tuple[int, float, list[float]]:
    """Claim and finish jobs until none is left; returns (jobs, end time, claim ms)."""
    store = Store(Path(root), url=url)
    worker_id = f"bench-{index}"
    store.register_worker(worker_id, pid=os.getpid(), hostname="bench-host")
    device = f"device-{index}"
    start.wait(timeout=120)
    done, claim_ms = 0, []
    while True:
        began = time.perf_counter()
        filters = store.runnable_filters(KINDS)
        job = store.claim(worker_id, device, kinds=KINDS, device_filters=filters)
        claim_ms.append((time.perf_counter() - began) * 1000)
        if job is None:
            return done, time.monotonic(), claim_ms
        store.transition(job.id, JobState.MEASURING_PERFORMANCE, worker_id=worker_id)
        store.transition(job.id, JobState.SUCCESS, worker_id=worker_id)
        done += 1


def _fill(store: Store, model_id: str, count: int, submitter: str = "bench") -> None:
    for _ in range(count):
        store.create_job("profile", model_id, submitter=submitter)


def _model(store: Store, directory: Path) -> str:
    path = directory / "empty.tflite"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 32)
    return store.add_model(path).id


def measure(
    engine: str, processes: int, jobs: int, open_store: Callable[[str], tuple[str, str | None]]
) -> Run:
    root, url = open_store(f"{engine}-{processes}")
    store = Store(Path(root), url=url)
    _fill(store, _model(store, Path(root)), jobs)
    with SPAWN.Manager() as manager, SPAWN.Pool(processes) as pool:
        start = manager.Barrier(processes + 1)
        pending = [pool.apply_async(_worker, (root, url, i, start)) for i in range(processes)]
        start.wait(timeout=120)
        began = time.monotonic()
        results = [result.get(timeout=600) for result in pending]
    claimed = sum(done for done, _, _ in results)
    if claimed != jobs:
        raise SystemExit(f"{engine} x{processes}: {claimed} of {jobs} jobs claimed")
    seconds = max(end for _, end, _ in results) - began
    return Run(engine, processes, jobs, seconds, [ms for _, _, lat in results for ms in lat])


def fairness(open_store: Callable[[str], tuple[str, str | None]], engine: str) -> int:
    """The claim (1-based) at which one submitter's single job is taken after a flood."""
    root, url = open_store(f"fair-{engine}")
    store = Store(Path(root), url=url)
    model_id = _model(store, Path(root))
    _fill(store, model_id, FLOOD, submitter="alice")
    single = store.create_job("profile", model_id, submitter="bob")
    store.register_worker("fair", pid=os.getpid(), hostname="bench-host")
    for position in range(1, FLOOD + 2):
        job = store.claim("fair", "device", kinds=KINDS)
        assert job is not None
        store.transition(job.id, JobState.MEASURING_PERFORMANCE, worker_id="fair")
        store.transition(job.id, JobState.SUCCESS, worker_id="fair")
        if job.id == single.id:
            return position
    raise SystemExit("the single job was never claimed")


@contextmanager
def stores(base: Path, url: str | None) -> Iterator[Callable[[str], tuple[str, str | None]]]:
    """A factory of fresh stores by name: (root, PostgreSQL URL or None for SQLite)."""
    server = None
    if url is None:
        from tests.postgres_server import PostgresServer, pg_bin

        bin_dir = pg_bin()
        if bin_dir is None:
            raise SystemExit("no PostgreSQL here (apt-get install postgresql) and no --url")
        server = PostgresServer(bin_dir, Path(tempfile.mkdtemp(prefix="devicelab-pg-bench-")))
        server.start()

    def open_store(name: str) -> tuple[str, str | None]:
        root = base / name
        root.mkdir()
        if name.startswith(("sqlite", "fair-sqlite")):
            return str(root), None
        if server is not None:
            return str(root), server.database_url(name)
        return str(root), _fresh_database(url or "", name)

    try:
        yield open_store
    finally:
        if server is not None:
            server.stop()


def _fresh_database(url: str, name: str) -> str:
    """A new database beside ``url``'s (its user must be allowed to create one)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    database = f"devicelab_bench_{name.replace('-', '_')}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    return make_conninfo(**{**conninfo_to_dict(url), "dbname": database})


def _table(runs: list[Run]) -> str:
    lines = [
        f"{'engine':<11} {'processes':>9} {'jobs':>6} {'seconds':>8} {'jobs/s':>8} "
        f"{'claim p50 ms':>13} {'claim p95 ms':>13}"
    ]
    for run in runs:
        p95 = statistics.quantiles(run.claim_ms, n=20)[-1]
        lines.append(
            f"{run.engine:<11} {run.processes:>9} {run.jobs:>6} {run.seconds:>8.2f} "
            f"{run.per_second:>8.0f} {statistics.median(run.claim_ms):>13.2f} {p95:>13.2f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="empty jobs per configuration")
    parser.add_argument("--url", help="an existing PostgreSQL server (default: a throwaway one)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at start")
    with (
        tempfile.TemporaryDirectory(prefix="devicelab-bench-claim-") as tmp,
        stores(Path(tmp), args.url) as open_store,
    ):
        runs = [measure(e, n, args.jobs, open_store) for e, n in CONFIGS]
        fair = {engine: fairness(open_store, engine) for engine in ("sqlite", "postgresql")}
    print("claim throughput (empty jobs: read filters + claim + 2 transitions each)")
    print(_table(runs))
    for engine, position in fair.items():
        print(
            f"fairness, {engine}: {FLOOD} jobs from alice, then 1 from bob: "
            f"bob's job was claim #{position} (FIFO would be #{FLOOD + 1})"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
