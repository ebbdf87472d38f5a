"""Hosts of a lab: the devices each host's worker publishes, which hosts are alive, and
the queued jobs that no live host has a device for.

A host is alive while one of its workers heartbeats (``workers.hostname``, fresh
within the heartbeat timeout); its devices are the rows it published last. A
queued job whose device filter no live host's device accepts says so in its
message and fails once it has waited ``timeout_s`` (``DEVICELAB_UNPLACED_TIMEOUT_S``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from controller.store._codec import from_json, to_datetime, to_json
from controller.store._jobs import fail_dependants
from controller.store._records import DeviceRecord
from controller.store._sql import Connection, Row, placeholders

_DEVICE_COLUMNS = "host, serial, name, os_version, attributes, info, last_seen"
_UPSERT_DEVICE = (
    f"INSERT INTO devices ({_DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (host, serial) DO UPDATE SET name = excluded.name, "
    "os_version = excluded.os_version, attributes = excluded.attributes, "
    "info = excluded.info, last_seen = excluded.last_seen"
)
_QUEUED_DEVICE_JOBS = "state = 'created' AND kind IN ('profile', 'inference')"


def publish_devices(
    conn: Connection, now: float, host: str, devices: Sequence[DeviceRecord]
) -> None:
    """Make ``devices`` the devices of ``host``: upsert them, drop the ones it no longer lists."""
    serials = [device.serial for device in devices]
    if serials:
        conn.execute(
            f"DELETE FROM devices WHERE host = ? AND serial NOT IN ({placeholders(len(serials))})",
            (host, *serials),
        )
    else:
        conn.execute("DELETE FROM devices WHERE host = ?", (host,))
    conn.executemany(
        _UPSERT_DEVICE,
        [_device_params(host, device, now) for device in devices],
    )


def upsert_device(conn: Connection, now: float, host: str, device: DeviceRecord) -> DeviceRecord:
    conn.execute(
        _UPSERT_DEVICE,
        _device_params(host, device, now),
    )
    row = conn.execute(
        f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE host = ? AND serial = ?",
        (host, device.serial),
    ).fetchone()
    return _device(row)


def list_devices(conn: Connection, live_since: float | None) -> list[DeviceRecord]:
    """Every host's devices; with ``live_since``, only hosts with a worker heartbeat since."""
    where = ""
    params: tuple[float, ...] = ()
    if live_since is not None:
        where = (
            "WHERE EXISTS (SELECT 1 FROM workers AS w WHERE w.hostname = d.host "
            "AND w.heartbeat_at >= ?) "
        )
        params = (live_since,)
    rows = conn.execute(
        f"SELECT {_DEVICE_COLUMNS} FROM devices AS d {where}ORDER BY name, host, serial", params
    )
    return [_device(row) for row in rows]


def live_hosts(conn: Connection, live_since: float) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT hostname FROM workers WHERE heartbeat_at >= ? ORDER BY hostname",
        (live_since,),
    )
    return [row["hostname"] for row in rows]


def mark_unplaced(
    conn: Connection, now: float, unplaced: Collection[str], timeout_s: float
) -> list[str]:
    """Queued device jobs whose filter (JSON text) is in ``unplaced`` wait, saying so, and
    fail once they waited ``timeout_s``; the others stop waiting. Returns failed job ids."""
    in_sql = f"device_filter IN ({placeholders(len(unplaced))})" if unplaced else "1 = 0"
    conn.execute(
        "UPDATE jobs SET unplaced_since = NULL, message = '' "
        f"WHERE {_QUEUED_DEVICE_JOBS} AND unplaced_since IS NOT NULL AND NOT ({in_sql})",
        tuple(unplaced),
    )
    if not unplaced:
        return []
    conn.execute(
        "UPDATE jobs SET unplaced_since = ?, updated_at = ?, message = "
        "'waiting: no live host has a device this job asks for' "
        f"WHERE {_QUEUED_DEVICE_JOBS} AND unplaced_since IS NULL AND {in_sql}",
        (now, now, *unplaced),
    )
    rows = conn.execute(
        "UPDATE jobs SET state = 'failed', finished_at = ?, updated_at = ?, "
        "message = 'no live host had a device this job asks for within ' || ? || ' s' "
        f"WHERE {_QUEUED_DEVICE_JOBS} AND unplaced_since <= ? AND {in_sql} RETURNING id",
        (now, now, f"{timeout_s:g}", now - timeout_s, *unplaced),
    ).fetchall()
    failed = [row["id"] for row in rows]
    for job_id in failed:
        fail_dependants(conn, now, job_id)
    return failed


def _device_params(host: str, device: DeviceRecord, now: float) -> tuple[object, ...]:
    last_seen = now if device.last_seen is None else device.last_seen.timestamp()
    return (
        host,
        device.serial,
        device.name,
        device.os_version,
        to_json(list(device.attributes), "device attributes"),
        to_json(device.info, "device info"),
        last_seen,
    )


def _device(row: Row) -> DeviceRecord:
    return DeviceRecord(
        serial=row["serial"],
        name=row["name"],
        os_version=row["os_version"],
        attributes=from_json(row["attributes"]),
        info=from_json(row["info"]),
        last_seen=to_datetime(row["last_seen"]),
        host=row["host"],
    )
