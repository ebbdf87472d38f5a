"""Device health rows and their transitions (the machine is ``controller/device_states.py``).

Rows are keyed by (host, serial): a serial names a device on one host ("local" is on
every host), and each host's worker minds its own. A device with no row is available.
``device_event`` reads the state, asks the pure machine for the move, writes the new
state and appends the transition, all in the caller's one write transaction: two
workers offering events for one device at once see each other's moves (only one
starts a recovery).
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


def get_status(conn: Connection, host: str, serial: str) -> DeviceStatus:
    row = conn.execute(
        f"SELECT {_STATUS_COLUMNS} FROM device_health WHERE host = ? AND serial = ?",
        (host, serial),
    ).fetchone()
    return DeviceStatus(serial) if row is None else _status(row)


def list_statuses(conn: Connection, host: str) -> list[DeviceStatus]:
    rows = conn.execute(
        f"SELECT {_STATUS_COLUMNS} FROM device_health WHERE host = ? ORDER BY serial", (host,)
    )
    return [_status(row) for row in rows]


def statuses_by_host(conn: Connection) -> dict[tuple[str, str], DeviceStatus]:
    """Every host's recorded statuses, by (host, serial)."""
    rows = conn.execute(f"SELECT host, {_STATUS_COLUMNS} FROM device_health")
    return {(row["host"], row["serial"]): _status(row) for row in rows}


def adopt_unhosted(conn: Connection, host: str) -> None:
    """Give rows from before hosts were recorded (host '') to ``host``."""
    for table in ("device_health", "devices", "device_transitions"):
        conn.execute(f"UPDATE {table} SET host = ? WHERE host = ''", (host,))


def device_event(
    conn: Connection,
    now: float,
    host: str,
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
    lock_key(conn, f"devicelab device health {host}/{serial}")
    status = get_status(conn, host, serial)
    move = apply(status, event, settings)
    if move is None:
        return None
    conn.execute(
        "INSERT INTO device_health (host, serial, state, reason, since, failed_recoveries) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (host, serial) DO UPDATE SET "
        "state = excluded.state, "
        "reason = excluded.reason, since = excluded.since, "
        "failed_recoveries = excluded.failed_recoveries",
        (host, serial, move.to.value, move.reason, now, move.failed_recoveries),
    )
    conn.execute(
        "INSERT INTO device_transitions (host, serial, from_state, to_state, reason, job_id, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (host, serial, status.state.value, move.to.value, move.reason, job_id, now),
    )
    return get_status(conn, host, serial)


def list_transitions(
    conn: Connection, host: str, serial: str | None, limit: int
) -> list[DeviceTransition]:
    """Oldest first, the last ``limit`` of one device (or of all) of ``host``."""
    where, params = (
        ("WHERE host = ? AND serial = ?", [host, serial])
        if serial
        else (
            "WHERE host = ?",
            [host],
        )
    )
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
