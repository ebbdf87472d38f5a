"""Conversions between Python values and SQLite columns, in one place.

Times are stored as REAL Unix seconds (readable with ``datetime(x, 'unixepoch')``
in the sqlite3 shell) and handed out as UTC ``datetime``s.
"""

from __future__ import annotations

import json
import secrets
import string
from datetime import UTC, datetime
from typing import Any

from controller.errors import UserError
from controller.store._sql import Connection

ID_LENGTH = 8
_ID_ALPHABET = string.ascii_lowercase + string.digits


def to_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def to_optional_datetime(seconds: float | None) -> datetime | None:
    return None if seconds is None else to_datetime(seconds)


def to_json(value: Any, what: str) -> str:
    """``value`` as JSON text; a value JSON cannot hold is the caller's mistake."""
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{what} must be JSON-serializable: {exc}") from exc


def from_json(text: str) -> Any:
    return json.loads(text)


def new_id(conn: Connection, table: str, prefix: str) -> str:
    """A fresh id like the cloud's (``m`` + 8 URL-safe characters), unused in ``table``.

    Called inside a write transaction, so the check and the insert that follows
    cannot interleave with another process.

    Example:
        new_id(conn, "models", "m")   # "m3k9x0a1b"
    """
    while True:
        candidate = prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
        row = conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (candidate,)).fetchone()
        if row is None:
            return candidate


def check_page(limit: int, offset: int) -> None:
    """Reject paging values SQLite would silently read as "no limit"."""
    if limit < 0 or offset < 0:
        raise UserError(f"limit and offset must be >= 0 (got limit={limit}, offset={offset})")
