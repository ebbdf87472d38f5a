"""Device health rows and their transitions (the machine is ``controller/device_states.py``).

A device with no row is available. ``device_event`` reads the state, asks the pure
machine for the move, writes the new state and appends the transition, all in the
caller's one write transaction: two workers offering events for one device at once
see each other's moves (only one starts a recovery).
"""

from __future__ import annotations

from controller.device_states import (
    DeviceState,
    DeviceStatus,
    DeviceTransition,
    Event,
    HealthSettings,
    apply,
)
from controller.errors import UserError
from controller.store._codec import to_datetime
from controller.store._sql import Connection, Row, lock_key

_STATUS_COLUMNS = "serial, state, reason, since, failed_recoveries"


def _status(row: Row) -> DeviceStatus:
    return DeviceStatus(
        serial=row["serial"],
        state=DeviceState(row["state"]),
        reason=row["reason"],
        since=to_datetime(row["since"]),
        failed_recoveries=row["failed_recoveries"],
    )


def get_status(conn: Connection, serial: str) -> DeviceStatus:
    row = conn.execute(
        f"SELECT {_STATUS_COLUMNS} FROM device_health WHERE serial = ?", (serial,)
    ).fetchone()
    return DeviceStatus(serial) if row is None else _status(row)


def list_statuses(conn: Connection) -> list[DeviceStatus]:
    rows = conn.execute(f"SELECT {_STATUS_COLUMNS} FROM device_health ORDER BY serial")
    return [_status(row) for row in rows]


def device_event(
    conn: Connection,
    now: float,
    serial: str,
    event: Event,
    settings: HealthSettings,
    job_id: str | None,
) -> DeviceStatus | None:
    """Apply ``event``; the new status, or None when it moved nothing."""
    if not serial:
        raise UserError("a device event needs the device's serial")
    # The row may not exist yet, so no row lock: a key lock makes two workers' events
    # for one device take turns on PostgreSQL (SQLite's write lock already does).
    lock_key(conn, f"devicelab device health {serial}")
    status = get_status(conn, serial)
    move = apply(status, event, settings)
    if move is None:
        return None
    conn.execute(
        "INSERT INTO device_health (serial, state, reason, since, failed_recoveries) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (serial) DO UPDATE SET state = excluded.state, "
        "reason = excluded.reason, since = excluded.since, "
        "failed_recoveries = excluded.failed_recoveries",
        (serial, move.to.value, move.reason, now, move.failed_recoveries),
    )
    conn.execute(
        "INSERT INTO device_transitions (serial, from_state, to_state, reason, job_id, at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (serial, status.state.value, move.to.value, move.reason, job_id, now),
    )
    return get_status(conn, serial)


def list_transitions(conn: Connection, serial: str | None, limit: int) -> list[DeviceTransition]:
    """Oldest first, the last ``limit`` of one device (or of all)."""
    where, params = ("WHERE serial = ?", [serial]) if serial else ("", [])
    rows = conn.execute(
        "SELECT * FROM (SELECT id, serial, from_state, to_state, reason, job_id, at "
        f"FROM device_transitions {where} ORDER BY id DESC LIMIT ?) AS recent ORDER BY id",
        (*params, limit),
    )
    return [
        DeviceTransition(
            serial=row["serial"],
            from_state=DeviceState(row["from_state"]),
            to_state=DeviceState(row["to_state"]),
            reason=row["reason"],
            at=to_datetime(row["at"]),
            job_id=row["job_id"],
        )
        for row in rows
    ]
