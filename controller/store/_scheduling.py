"""Who runs what: workers, their heartbeats, claiming queued jobs, and recovering orphans.

Every function here runs inside one write transaction (SQLite's ``BEGIN
IMMEDIATE``; on PostgreSQL, READ COMMITTED with the rows locked), so a claim or
a recovery is atomic across processes and hosts: two workers can never take
the same job, and a device never runs two jobs at once (the unique index
``jobs_one_running_per_device`` backs the check in ``claim``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from controller.jobs import JobState
from controller.store._codec import from_json, to_datetime, to_json
from controller.store._jobs import (
    JOB_COLUMNS,
    fail_dependants,
    get_job,
    job_from_row,
    require_worker,
)
from controller.store._records import RUNNING_STATES, JobRecord
from controller.store._sql import Connection, lock_key, placeholders

DEFAULT_MAX_ATTEMPTS = 3
DeviceMatcher = Callable[[dict[str, Any]], bool]

_RUNNING_SQL = "state NOT IN ('created', 'success', 'failed')"
# A queued job whose parent, if it has one, succeeded (a failed parent fails its
# children at once: _jobs.fail_dependants).
_PARENT_JOIN = "LEFT JOIN jobs AS p ON p.id = j.parent_job_id"
_RUNNABLE_SQL = "j.state = 'created' AND (j.parent_job_id IS NULL OR p.state = 'success')"


def register_worker(
    conn: Connection, now: float, worker_id: str, pid: int, hostname: str, max_attempts: int
) -> list[JobRecord]:
    """Record a worker as alive; jobs a previous run of it left running are recovered.

    A freshly started worker holds nothing, so anything still held under its id
    was abandoned by its previous incarnation (whose heartbeat may look fresh).
    """
    held = conn.execute(
        f"SELECT id FROM jobs WHERE worker_id = ? AND {_RUNNING_SQL} ORDER BY created_at, rowid"
        f"{conn.dialect.for_update}",
        (worker_id,),
    ).fetchall()
    reason = f"worker {worker_id} restarted while the job was running"
    recovered = [release(conn, now, get_job(conn, row["id"]), reason, max_attempts) for row in held]
    conn.execute(
        "INSERT INTO workers (id, pid, hostname, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, hostname = excluded.hostname, "
        "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
        (worker_id, pid, hostname, now, now),
    )
    return recovered


def heartbeat(conn: Connection, now: float, worker_id: str) -> str:
    """Record the worker as alive now; returns its host. InternalError if unregistered."""
    row = conn.execute(
        "UPDATE workers SET heartbeat_at = ? WHERE id = ? RETURNING hostname", (now, worker_id)
    ).fetchone()
    if row is None:
        require_worker(conn, worker_id)  # raises, saying what to do
    host: str = row["hostname"]
    return host


def runnable_filters(conn: Connection, kinds: Collection[str] | None) -> list[dict[str, Any]]:
    """The distinct device filters of queued jobs that may start now (parent succeeded).

    A lab has few distinct filters (one per kind of phone asked for), however
    long the queue: a worker matches those against its devices, outside any
    transaction, and claims with the ones its device accepts.
    """
    kind_sql, params = _in("j.kind", kinds)
    rows = conn.execute(
        f"SELECT DISTINCT j.device_filter FROM jobs AS j {_PARENT_JOIN} "
        f"WHERE {_RUNNABLE_SQL}{kind_sql} ORDER BY j.device_filter",
        params,
    ).fetchall()
    return [from_json(row["device_filter"]) for row in rows]


def claim(
    conn: Connection,
    now: float,
    worker_id: str,
    slot: str,
    kinds: Collection[str] | None,
    device_filters: Collection[str] | None,
) -> JobRecord | None:
    """Take the next runnable job for ``slot`` on the worker's host; None if none or busy.

    One statement picks and takes it: queued, its parent (if any) succeeded, of
    one of ``kinds``, its device filter (JSON text) among ``device_filters``
    (None: any), the slot running nothing and its health ``available``.
    Submitters are served in turn (the one served longest ago first; one never
    served before anyone), each submitter's jobs oldest first, so 500 jobs from
    one user do not starve another's one. On PostgreSQL, ``SKIP LOCKED`` lets
    claims on other devices pass a job one worker is taking, and a per-slot lock
    keeps the busy check true until commit.
    """
    host = heartbeat(conn, now, worker_id)  # a claim is a sign of life
    if device_filters is not None and not device_filters:
        return None
    lock_key(conn, f"devicelab slot {host}/{slot}")
    kind_sql, kind_params = _in("j.kind", kinds)
    filter_sql, filter_params = _in("j.device_filter", device_filters)
    row = conn.execute(
        "UPDATE jobs SET state = ?, device_serial = ?, host = ?, worker_id = ?, started_at = ?, "
        "updated_at = ?, message = '' WHERE id = ("
        f"SELECT j.id FROM jobs AS j {_PARENT_JOIN} "
        "LEFT JOIN submitters AS s ON s.name = j.submitter "
        f"WHERE {_RUNNABLE_SQL}{kind_sql}{filter_sql} AND NOT EXISTS ("
        "SELECT 1 FROM jobs AS b WHERE b.device_serial = ? AND coalesce(b.host, '') = ? "
        f"AND b.{_RUNNING_SQL}) "
        # Only a device that is well takes a job: not one suspect, recovering, resting,
        # offline or quarantined (controller/device_states.py). No row: available.
        "AND NOT EXISTS (SELECT 1 FROM device_health AS h WHERE h.host = ? AND h.serial = ? "
        "AND h.state <> 'available') "
        "ORDER BY coalesce(s.last_served, 0), j.created_at, j.rowid "
        f"LIMIT 1{conn.dialect.skip_locked}) RETURNING {JOB_COLUMNS}",
        (
            JobState.PROVISIONING_DEVICE.value,
            slot,
            host,
            worker_id,
            now,
            now,
            *kind_params,
            *filter_params,
            slot,
            host,
            host,
            slot,
        ),
    ).fetchone()
    if row is None:
        return None
    job = job_from_row(row)
    served(conn, job.submitter)
    return job


def served(conn: Connection, submitter: str) -> None:
    """``submitter`` was served now: it goes behind every other (ties are harmless).

    The row is written only when someone else was served last: a plain UPDATE
    whose WHERE fails takes no row lock (ON CONFLICT DO UPDATE would lock it
    always), so claims from many hosts for one submitter's flood do not queue
    on that row. scripts/bench_claim.py on PostgreSQL, one submitter, 2 busy
    cores: 143 -> 270 jobs/s with 4 processes, 104 -> 208 with 16.
    """
    conn.execute(
        "INSERT INTO submitters (name, last_served) "
        "VALUES (?, (SELECT coalesce(max(last_served), 0) + 1 FROM submitters)) "
        "ON CONFLICT (name) DO NOTHING",
        (submitter,),
    )
    conn.execute(
        "UPDATE submitters SET last_served = (SELECT max(last_served) + 1 FROM submitters) "
        "WHERE name = ? AND last_served < (SELECT max(last_served) FROM submitters)",
        (submitter,),
    )


def _in(column: str, values: Collection[str] | None) -> tuple[str, tuple[str, ...]]:
    """`` AND column IN (?, ...)`` and its parameters; nothing for None (any value)."""
    if values is None:
        return "", ()
    return f" AND {column} IN ({placeholders(len(values))})", tuple(values)


def recover_orphans(
    conn: Connection, now: float, stale_after_s: float, max_attempts: int
) -> list[JobRecord]:
    """Re-queue or fail running jobs nobody is alive to finish; see ``Store.recover_orphans``."""
    cutoff = now - stale_after_s
    rows = conn.execute(
        "SELECT j.id, j.worker_id, w.heartbeat_at FROM jobs AS j "
        "LEFT JOIN workers AS w ON w.id = j.worker_id "
        f"WHERE j.{_RUNNING_SQL} AND (w.heartbeat_at < ? OR "
        "(j.worker_id IS NULL AND j.updated_at < ?)) ORDER BY j.created_at, j.rowid"
        # Another worker recovering the same job now: it is theirs to recover.
        f"{conn.dialect.skip_locked}",
        (cutoff, cutoff),
    ).fetchall()
    recovered = []
    for row in rows:
        if row["worker_id"] is None:
            reason = f"no worker held the job and it made no progress for {stale_after_s:g} s"
        else:
            silent_s = now - row["heartbeat_at"]
            reason = (
                f"worker {row['worker_id']} stopped while the job was running "
                f"(no heartbeat for {silent_s:.0f} s)"
            )
        recovered.append(release(conn, now, get_job(conn, row["id"]), reason, max_attempts))
    return recovered


def hand_back(
    conn: Connection, now: float, job_id: str, worker_id: str, reason: str
) -> JobRecord | None:
    """Re-queue a running job its worker gives up (stopping); None if it no longer holds it.

    Not an attempt: the worker did not fail, so the job keeps its attempt count
    and the run's events are dropped (the next run numbers its events from 0
    again). A late write of the old run is refused, as it no longer holds the job.
    """
    job = get_job(conn, job_id, lock=conn.dialect.for_update)
    if job.worker_id != worker_id or job.state not in RUNNING_STATES:
        return None
    conn.execute("DELETE FROM job_events WHERE job_id = ? AND attempt = ?", (job_id, job.attempt))
    conn.execute(
        "UPDATE jobs SET state = 'created', worker_id = NULL, device_serial = NULL, host = NULL, "
        "started_at = NULL, updated_at = ?, message = ? WHERE id = ?",
        (now, f"re-queued: {reason}", job_id),
    )
    return get_job(conn, job_id)


def release(
    conn: Connection, now: float, job: JobRecord, reason: str, max_attempts: int
) -> JobRecord:
    """Put an abandoned job back in the queue, or fail it once it has used its attempts.

    A result the lost run stored before it stopped is dropped: the job's result is the
    one of the run that finishes it (a late write of the lost run is refused, _runs).
    """
    conn.execute("DELETE FROM job_results WHERE job_id = ?", (job.id,))
    if job.attempt < max_attempts:
        conn.execute(
            "UPDATE jobs SET state = 'created', attempt = attempt + 1, worker_id = NULL, "
            "device_serial = NULL, host = NULL, started_at = NULL, updated_at = ?, message = ? "
            "WHERE id = ?",
            (now, f"re-queued: {reason} (attempt {job.attempt} of {max_attempts})", job.id),
        )
    else:
        conn.execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?, updated_at = ?, message = ? "
            "WHERE id = ?",
            (now, now, f"{reason}; gave up after {job.attempt} attempts", job.id),
        )
        fail_dependants(conn, now, job.id)
    return get_job(conn, job.id)


def retry_after_device_failure(
    conn: Connection,
    now: float,
    job_id: str,
    worker_id: str,
    device_serial: str,
    reason: str,
    max_retries: int,
) -> JobRecord | None:
    """Queue again a job whose run failed for a device reason, or fail it past
    ``max_retries``; None when ``worker_id`` no longer holds it (cancelled, taken over).

    The retry is a new attempt (the failed run's events stay under the old one) and is
    listed in the job's ``retries`` with the device and the reason. Any matching device
    that is well may take it: the failed one is suspect until a recovery clears it.
    """
    job = get_job(conn, job_id, lock=conn.dialect.for_update)
    if job.worker_id != worker_id or job.state not in RUNNING_STATES:
        return None
    if len(job.retries) >= max_retries:
        note = (
            f" (not retried again: {len(job.retries)} retries after device failures)"
            if job.retries
            else ""
        )
        conn.execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?, updated_at = ?, message = ? "
            "WHERE id = ?",
            (now, now, f"{reason}{note}", job_id),
        )
        fail_dependants(conn, now, job_id)
        return get_job(conn, job_id)
    retries = [
        *job.retries,
        {"device": device_serial, "reason": reason, "at": to_datetime(now).isoformat()},
    ]
    message = (
        f"re-queued: device {device_serial} failed: {reason} "
        f"(retry {len(retries)} of {max_retries})"
    )
    conn.execute(
        "UPDATE jobs SET state = 'created', attempt = attempt + 1, worker_id = NULL, "
        "device_serial = NULL, host = NULL, started_at = NULL, updated_at = ?, message = ?, "
        "retries = ? "
        "WHERE id = ?",
        (now, message, to_json(retries, "retries"), job_id),
    )
    return get_job(conn, job_id)
