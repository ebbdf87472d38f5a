"""What a job produced: the agent's events as they streamed, the result, inference outputs.

Events are keyed by (job, attempt, seq): the agent's sequence numbers restart
when a recovered job runs again, and the first attempt's events stay readable.
Writing an event twice (a retried stream) stores it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controller.jobs import JobState
from controller.store._codec import from_json, to_datetime, to_json
from controller.store._jobs import JobStateError, get_job
from controller.store._records import RUNNING_STATES, EventRecord
from controller.store._sql import Connection, Row

EventTuple = tuple[int, str, bytes]


def append_events(
    conn: Connection,
    now: float,
    job_id: str,
    events: Iterable[EventTuple],
    attempt: int | None,
    worker_id: str | None = None,
) -> int:
    """Store events not stored yet; returns how many were new.

    With ``worker_id``, only while that worker holds the job: a run whose job was
    handed back or recovered must not write into the next run's events. A write
    naming its ``attempt`` for a queued job is such a late write too.
    """
    # Shared lock: a hand back or recovery of the job waits until these events are in.
    job = get_job(conn, job_id, lock=conn.dialect.for_share)
    queued = attempt is not None and job.state is JobState.CREATED
    if queued or (worker_id is not None and job.worker_id != worker_id):
        raise JobStateError(f"job {job_id} is no longer held by the run writing its events")
    run = job.attempt if attempt is None else attempt
    cursor = conn.executemany(
        "INSERT INTO job_events (job_id, attempt, seq, kind, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(job_id, run, int(seq), str(kind), bytes(payload), now) for seq, kind, payload in events],
    )
    return max(cursor.rowcount, 0)


def list_events(conn: Connection, job_id: str, attempt: int | None) -> list[EventRecord]:
    job = get_job(conn, job_id)
    run = job.attempt if attempt is None else attempt
    rows = conn.execute(
        "SELECT job_id, attempt, seq, kind, payload, created_at FROM job_events "
        "WHERE job_id = ? AND attempt = ? ORDER BY seq",
        (job_id, run),
    )
    return [
        EventRecord(
            job_id=row["job_id"],
            attempt=row["attempt"],
            seq=row["seq"],
            kind=row["kind"],
            payload=bytes(row["payload"]),
            created_at=to_datetime(row["created_at"]),
        )
        for row in rows
    ]


def set_result(
    conn: Connection, now: float, job_id: str, result: dict[str, Any], worker_id: str | None
) -> None:
    _require_holder(conn, job_id, worker_id)
    conn.execute(
        "INSERT INTO job_results (job_id, result, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (job_id) DO UPDATE SET result = excluded.result, "
        "updated_at = excluded.updated_at",
        (job_id, to_json(result, "job result"), now),
    )


def set_output_sha256(
    conn: Connection, now: float, job_id: str, sha256: str, worker_id: str | None
) -> None:
    _require_holder(conn, job_id, worker_id)
    conn.execute(
        "INSERT INTO job_results (job_id, output_sha256, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (job_id) DO UPDATE SET output_sha256 = excluded.output_sha256, "
        "updated_at = excluded.updated_at",
        (job_id, sha256, now),
    )


def _require_holder(conn: Connection, job_id: str, worker_id: str | None) -> None:
    """With ``worker_id``: refuse unless that worker holds the running job. A host
    presumed lost gets its job taken (``_scheduling.release``); its late result must not
    land on the job another host now runs, or has finished (fencing)."""
    # Shared lock: a recovery of the job waits until this write is in, or sees it refused.
    job = get_job(conn, job_id, lock=conn.dialect.for_share)
    if worker_id is not None and (job.worker_id != worker_id or job.state not in RUNNING_STATES):
        raise JobStateError(f"job {job_id} is no longer held by worker {worker_id}")


def get_result(conn: Connection, job_id: str) -> dict[str, Any] | None:
    row = _result_row(conn, job_id)
    if row is None or row["result"] is None:
        return None
    result: dict[str, Any] = from_json(row["result"])
    return result


def get_output_sha256(conn: Connection, job_id: str) -> str | None:
    row = _result_row(conn, job_id)
    return None if row is None else row["output_sha256"]


def _result_row(conn: Connection, job_id: str) -> Row | None:
    get_job(conn, job_id)  # an unknown id is an error, not "no result yet"
    row: Row | None = conn.execute(
        "SELECT result, output_sha256 FROM job_results WHERE job_id = ?", (job_id,)
    ).fetchone()
    return row
