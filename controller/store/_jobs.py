"""Job rows and the job state machine: ``TRANSITIONS`` is the one table of legal moves.

A job is queued in ``created``; a worker moves it through the running states
(``claim_next`` puts it in ``provisioning device``); it ends in ``success`` or
``failed``, which are final. Every unfinished state may fail, and a running
state may "move" to itself to update its message (progress). Only
``recover_orphans`` (counting the attempt), ``hand_back`` (a stopping
worker's job, not counted) and ``retry_after_device_failure`` (a run its device
failed, counted as a retry) send a job back to ``created``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from controller.errors import InternalError, UserError
from controller.jobs import JobState
from controller.store._catalog import get_dataset, get_model
from controller.store._codec import (
    from_json,
    new_id,
    to_datetime,
    to_json,
    to_optional_datetime,
)
from controller.store._records import (
    JOB_KINDS,
    RUNNING_STATES,
    TERMINAL_STATES,
    JobKind,
    JobRecord,
)
from controller.store._sql import Connection, Row

_S = JobState
_FORWARD: dict[JobState, set[JobState]] = {
    _S.CREATED: {_S.OPTIMIZING_MODEL, _S.QUANTIZING_MODEL, _S.PROVISIONING_DEVICE},
    _S.OPTIMIZING_MODEL: {_S.QUANTIZING_MODEL, _S.PROVISIONING_DEVICE, _S.SUCCESS},
    _S.QUANTIZING_MODEL: {_S.OPTIMIZING_MODEL, _S.PROVISIONING_DEVICE, _S.SUCCESS},
    _S.PROVISIONING_DEVICE: {_S.OPTIMIZING_MODEL, _S.MEASURING_PERFORMANCE, _S.RUNNING_INFERENCE},
    _S.MEASURING_PERFORMANCE: {_S.SUCCESS},
    _S.RUNNING_INFERENCE: {_S.SUCCESS},
    _S.SUCCESS: set(),
    _S.FAILED: set(),
}
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    state: frozenset(
        targets
        | (set() if state in TERMINAL_STATES else {_S.FAILED})
        | ({state} if state in RUNNING_STATES else set())
    )
    for state, targets in _FORWARD.items()
}

JOB_COLUMNS = (
    "id, kind, name, state, message, model_id, dataset_id, device_filter, device_serial, "
    "options, parent_job_id, created_at, updated_at, started_at, finished_at, worker_id, attempt, "
    "spec, retries, submitter, host"
)


class JobStateError(InternalError):
    """A transition was refused: the job was not where the caller expected it.

    Schedulers catch it when they lose a race (the job was cancelled, or
    recovered and handed to another worker) and drop the work they were doing.
    """


def parse_state(state: JobState | str) -> JobState:
    try:
        return JobState(state)
    except ValueError as exc:
        names = ", ".join(s.value for s in JobState)
        raise UserError(f"unknown job state {state!r} (states: {names})") from exc


def check_kind(kind: str) -> None:
    if kind not in JOB_KINDS:
        raise UserError(f"unknown job kind {kind!r} (kinds: {', '.join(JOB_KINDS)})")


def insert_job(
    conn: Connection,
    now: float,
    *,
    kind: JobKind,
    model_id: str,
    name: str | None,
    dataset_id: str | None,
    device_filter: dict[str, Any],
    options: str,
    parent_job_id: str | None,
    spec: dict[str, Any] | None = None,
    submitter: str = "",
) -> JobRecord:
    """A new job in ``created``; the model, dataset and parent must exist (and be usable)."""
    check_kind(kind)
    model = get_model(conn, model_id)
    if dataset_id is not None:
        get_dataset(conn, now, dataset_id)
    if parent_job_id is not None:
        get_job(conn, parent_job_id)
    job_id = new_id(conn, "jobs", "j")
    conn.execute(
        "INSERT INTO jobs (id, kind, name, state, model_id, dataset_id, device_filter, "
        "options, parent_job_id, created_at, updated_at, spec, submitter) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            job_id,
            kind,
            model.name if name is None else name,
            JobState.CREATED.value,
            model_id,
            dataset_id,
            to_json(device_filter, "device_filter"),
            options,
            parent_job_id,
            now,
            now,
            to_json(spec or {}, "spec"),
            submitter,
        ),
    )
    return get_job(conn, job_id)


def get_job(conn: Connection, job_id: str, lock: str = "") -> JobRecord:
    """The job; ``lock`` (a ``Dialect`` clause) keeps it from changing under the caller."""
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?{lock}", (job_id,)).fetchone()
    if row is None:
        raise UserError(f"no job with id {job_id!r}")
    return job_from_row(row)


def rename_job(conn: Connection, job_id: str, name: str) -> None:
    """Set a job's name (``Job.set_name``); UserError for an unknown job."""
    get_job(conn, job_id)
    conn.execute("UPDATE jobs SET name = ? WHERE id = ?", (name, job_id))


def list_jobs(
    conn: Connection,
    limit: int,
    offset: int,
    state: JobState | str | None,
    kind: JobKind | None,
) -> list[JobRecord]:
    """Newest first, optionally only one state and/or kind."""
    where, params = ["TRUE"], []
    if state is not None:
        where.append("state = ?")
        params.append(parse_state(state).value)
    if kind is not None:
        check_kind(kind)
        where.append("kind = ?")
        params.append(kind)
    rows = conn.execute(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE {' AND '.join(where)} "
        "ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return [job_from_row(row) for row in rows]


def job_from_row(row: Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        state=JobState(row["state"]),
        message=row["message"],
        model_id=row["model_id"],
        dataset_id=row["dataset_id"],
        device_filter=from_json(row["device_filter"]),
        device_serial=row["device_serial"],
        options=row["options"],
        parent_job_id=row["parent_job_id"],
        created_at=to_datetime(row["created_at"]),
        updated_at=to_datetime(row["updated_at"]),
        started_at=to_optional_datetime(row["started_at"]),
        finished_at=to_optional_datetime(row["finished_at"]),
        worker_id=row["worker_id"],
        attempt=row["attempt"],
        spec=from_json(row["spec"]),
        retries=from_json(row["retries"]),
        submitter=row["submitter"],
        host=row["host"],
    )


def transition(
    conn: Connection,
    now: float,
    job_id: str,
    to_state: JobState,
    message: str,
    expect: Collection[JobState],
    worker_id: str | None,
) -> JobRecord:
    """Compare-and-set the job's state; see ``Store.transition``.

    A failed job fails the queued jobs that wait for it (and theirs), with the reason.
    """
    job = get_job(conn, job_id, lock=conn.dialect.for_update)
    check_transition(job, to_state, expect, worker_id)
    if worker_id is not None:
        require_worker(conn, worker_id)
    # RETURNING: the job as changed, without another round trip to a server.
    row = conn.execute(
        "UPDATE jobs SET state = ?, message = ?, updated_at = ?, "
        "started_at = CASE WHEN ? THEN coalesce(started_at, ?) ELSE started_at END, "
        f"finished_at = ?, worker_id = coalesce(worker_id, ?) WHERE id = ? RETURNING {JOB_COLUMNS}",
        (
            to_state.value,
            message,
            now,
            to_state in RUNNING_STATES,
            now,
            now if to_state in TERMINAL_STATES else None,
            worker_id,
            job_id,
        ),
    ).fetchone()
    if to_state is JobState.FAILED:
        fail_dependants(conn, now, job_id)
    return job_from_row(row)


def fail_dependants(conn: Connection, now: float, parent_id: str) -> None:
    """Fail the queued jobs waiting for ``parent_id`` (just failed), and theirs in turn."""
    parent = get_job(conn, parent_id)
    children = conn.execute(
        "SELECT id FROM jobs WHERE parent_job_id = ? AND state = 'created'"
        f"{conn.dialect.for_update}",
        (parent_id,),
    ).fetchall()
    message = f"not run: job {parent_id} it depends on failed: {parent.message}"
    for row in children:
        conn.execute(
            "UPDATE jobs SET state = 'failed', message = ?, updated_at = ?, finished_at = ? "
            "WHERE id = ?",
            (message, now, now, row["id"]),
        )
        fail_dependants(conn, now, row["id"])


def check_transition(
    job: JobRecord, to_state: JobState, expect: Collection[JobState], worker_id: str | None
) -> None:
    """Raise ``JobStateError`` unless ``job`` may move to ``to_state`` now."""
    where = f"job {job.id} is {job.state.value!r}"
    if job.state in TERMINAL_STATES:
        raise JobStateError(f"{where} and has ended; it cannot move to {to_state.value!r}")
    if expect and job.state not in expect:
        wanted = " or ".join(repr(state.value) for state in expect)
        raise JobStateError(f"{where}, not {wanted}; not moving it to {to_state.value!r}")
    if to_state not in TRANSITIONS[job.state]:
        raise JobStateError(f"{where}; it cannot move to {to_state.value!r}")
    if worker_id is not None and job.worker_id not in (None, worker_id):
        raise JobStateError(f"{where} and held by worker {job.worker_id!r}, not {worker_id!r}")


def require_worker(conn: Connection, worker_id: str) -> None:
    row = conn.execute("SELECT 1 FROM workers WHERE id = ?", (worker_id,)).fetchone()
    if row is None:
        raise InternalError(f"worker {worker_id!r} is not registered; call register_worker first")
