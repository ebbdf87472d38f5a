"""Rows for what users upload: models and datasets (devices: ``_hosts``).

Functions here take an open connection and the current time; the ``Store``
decides the transaction around them.
"""

from __future__ import annotations

from typing import Any

from controller.errors import UserError
from controller.store._codec import (
    from_json,
    new_id,
    to_datetime,
    to_json,
)
from controller.store._records import DatasetRecord, ModelRecord
from controller.store._sql import Connection, Row

_MODEL_COLUMNS = "id, name, model_type, sha256, size_bytes, created_at, metadata"
_DATASET_COLUMNS = "id, name, sha256, created_at, expires_at, metadata"


def insert_model(
    conn: Connection,
    now: float,
    *,
    name: str,
    model_type: str,
    sha256: str,
    size_bytes: int,
    metadata: dict[str, Any],
) -> ModelRecord:
    model_id = new_id(conn, "models", "m")
    conn.execute(
        f"INSERT INTO models ({_MODEL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (model_id, name, model_type, sha256, size_bytes, now, to_json(metadata, "metadata")),
    )
    return get_model(conn, model_id)


def get_model(conn: Connection, model_id: str) -> ModelRecord:
    row = conn.execute(f"SELECT {_MODEL_COLUMNS} FROM models WHERE id = ?", (model_id,)).fetchone()
    if row is None:
        raise UserError(f"no model with id {model_id!r}")
    return _model(row)


def list_models(conn: Connection, limit: int, offset: int) -> list[ModelRecord]:
    rows = conn.execute(
        f"SELECT {_MODEL_COLUMNS} FROM models ORDER BY created_at DESC, rowid DESC "
        "LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return [_model(row) for row in rows]


def _model(row: Row) -> ModelRecord:
    return ModelRecord(
        id=row["id"],
        name=row["name"],
        model_type=row["model_type"],
        sha256=row["sha256"],
        size_bytes=row["size_bytes"],
        created_at=to_datetime(row["created_at"]),
        metadata=from_json(row["metadata"]),
    )


def insert_dataset(
    conn: Connection,
    now: float,
    *,
    name: str,
    sha256: str,
    expires_at: float,
    metadata: dict[str, Any],
) -> DatasetRecord:
    dataset_id = new_id(conn, "datasets", "d")
    conn.execute(
        f"INSERT INTO datasets ({_DATASET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
        (dataset_id, name, sha256, now, expires_at, to_json(metadata, "metadata")),
    )
    return find_dataset(conn, now, dataset_id)


def find_dataset(conn: Connection, now: float, dataset_id: str) -> DatasetRecord:
    """The dataset, expired or not; ``UserError`` if the id is unknown."""
    row = conn.execute(
        f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE id = ?", (dataset_id,)
    ).fetchone()
    if row is None:
        raise UserError(f"no dataset with id {dataset_id!r}")
    return _dataset(row, now)


def get_dataset(conn: Connection, now: float, dataset_id: str) -> DatasetRecord:
    """The dataset if it is still usable; an expired one is a ``UserError``."""
    record = find_dataset(conn, now, dataset_id)
    if record.expired:
        raise UserError(
            f"dataset {dataset_id!r} ({record.name}) expired on "
            f"{record.expires_at:%Y-%m-%d %H:%M} UTC; upload it again"
        )
    return record


def list_datasets(conn: Connection, now: float, limit: int, offset: int) -> list[DatasetRecord]:
    rows = conn.execute(
        f"SELECT {_DATASET_COLUMNS} FROM datasets ORDER BY created_at DESC, rowid DESC "
        "LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return [_dataset(row, now) for row in rows]


def _dataset(row: Row, now: float) -> DatasetRecord:
    return DatasetRecord(
        id=row["id"],
        name=row["name"],
        sha256=row["sha256"],
        created_at=to_datetime(row["created_at"]),
        expires_at=to_datetime(row["expires_at"]),
        metadata=from_json(row["metadata"]),
        expired=row["expires_at"] <= now,
    )
