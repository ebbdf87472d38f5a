"""Who runs what: workers, their heartbeats, claiming queued jobs, and recovering orphans.

Every function here runs inside one write transaction (``BEGIN IMMEDIATE``),
so a claim or a recovery is atomic across processes: two workers can never
take the same job, and a device never runs two jobs at once (the unique index
``jobs_one_running_per_device`` backs the check in ``claim_next``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from controller.jobs import JobState
from controller.store._codec import from_json, to_datetime, to_json
from controller.store._jobs import get_job, require_worker
from controller.store._records import RUNNING_STATES, JobRecord

DEFAULT_MAX_ATTEMPTS = 3
DeviceMatcher = Callable[[dict[str, Any]], bool]

_RUNNING_SQL = "state NOT IN ('created', 'success', 'failed')"


def register_worker(
    conn: sqlite3.Connection, now: float, worker_id: str, pid: int, hostname: str, max_attempts: int
) -> list[JobRecord]:
    """Record a worker as alive; jobs a previous run of it left running are recovered.

    A freshly started worker holds nothing, so anything still held under its id
    was abandoned by its previous incarnation (whose heartbeat may look fresh).
    """
    held = conn.execute(
        f"SELECT id FROM jobs WHERE worker_id = ? AND {_RUNNING_SQL} ORDER BY created_at, rowid",
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


def heartbeat(conn: sqlite3.Connection, now: float, worker_id: str) -> None:
    require_worker(conn, worker_id)
    conn.execute("UPDATE workers SET heartbeat_at = ? WHERE id = ?", (now, worker_id))


def claim_next(
    conn: sqlite3.Connection,
    now: float,
    worker_id: str,
    device_serial: str,
    device_matches: DeviceMatcher,
) -> JobRecord | None:
    """Take the oldest queued job ``device_matches`` accepts; None if none or device busy."""
    heartbeat(conn, now, worker_id)  # a claim is a sign of life
    busy = conn.execute(
        f"SELECT 1 FROM jobs WHERE device_serial = ? AND {_RUNNING_SQL}", (device_serial,)
    ).fetchone()
    if busy is not None:
        return None
    # Only a device that is well takes a job: not one suspect, recovering, resting,
    # offline or quarantined (controller/device_states.py). No row: available.
    health = conn.execute(
        "SELECT state FROM device_health WHERE serial = ?", (device_serial,)
    ).fetchone()
    if health is not None and health["state"] != "available":
        return None
    queued = conn.execute(
        "SELECT id, device_filter FROM jobs WHERE state = 'created' ORDER BY created_at, rowid"
    ).fetchall()
    for row in queued:
        if device_matches(from_json(row["device_filter"])):
            conn.execute(
                "UPDATE jobs SET state = ?, device_serial = ?, worker_id = ?, started_at = ?, "
                "updated_at = ?, message = '' WHERE id = ? AND state = 'created'",
                (JobState.PROVISIONING_DEVICE.value, device_serial, worker_id, now, now, row["id"]),
            )
            return get_job(conn, row["id"])
    return None


def recover_orphans(
    conn: sqlite3.Connection, now: float, stale_after_s: float, max_attempts: int
) -> list[JobRecord]:
    """Re-queue or fail running jobs nobody is alive to finish; see ``Store.recover_orphans``."""
    cutoff = now - stale_after_s
    rows = conn.execute(
        "SELECT j.id, j.worker_id, w.heartbeat_at FROM jobs AS j "
        "LEFT JOIN workers AS w ON w.id = j.worker_id "
        f"WHERE j.{_RUNNING_SQL} AND (w.heartbeat_at < ? OR "
        "(j.worker_id IS NULL AND j.updated_at < ?)) ORDER BY j.created_at, j.rowid",
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
    conn: sqlite3.Connection, now: float, job_id: str, worker_id: str, reason: str
) -> JobRecord | None:
    """Re-queue a running job its worker gives up (stopping); None if it no longer holds it.

    Not an attempt: the worker did not fail, so the job keeps its attempt count
    and the run's events are dropped (the next run numbers its events from 0
    again). A late write of the old run is refused, as it no longer holds the job.
    """
    job = get_job(conn, job_id)
    if job.worker_id != worker_id or job.state not in RUNNING_STATES:
        return None
    conn.execute("DELETE FROM job_events WHERE job_id = ? AND attempt = ?", (job_id, job.attempt))
    conn.execute(
        "UPDATE jobs SET state = 'created', worker_id = NULL, device_serial = NULL, "
        "started_at = NULL, updated_at = ?, message = ? WHERE id = ?",
        (now, f"re-queued: {reason}", job_id),
    )
    return get_job(conn, job_id)


def release(
    conn: sqlite3.Connection, now: float, job: JobRecord, reason: str, max_attempts: int
) -> JobRecord:
    """Put an abandoned job back in the queue, or fail it once it has used its attempts."""
    if job.attempt < max_attempts:
        conn.execute(
            "UPDATE jobs SET state = 'created', attempt = attempt + 1, worker_id = NULL, "
            "device_serial = NULL, started_at = NULL, updated_at = ?, message = ? WHERE id = ?",
            (now, f"re-queued: {reason} (attempt {job.attempt} of {max_attempts})", job.id),
        )
    else:
        conn.execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?, updated_at = ?, message = ? "
            "WHERE id = ?",
            (now, now, f"{reason}; gave up after {job.attempt} attempts", job.id),
        )
    return get_job(conn, job.id)


def retry_after_device_failure(
    conn: sqlite3.Connection,
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
    job = get_job(conn, job_id)
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
        "device_serial = NULL, started_at = NULL, updated_at = ?, message = ?, retries = ? "
        "WHERE id = ?",
        (now, message, to_json(retries, "retries"), job_id),
    )
    return get_job(conn, job_id)
