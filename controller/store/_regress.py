"""Regression suite runs: one row per run, one per entry x device in it.

A result row keeps what the history needs as columns (entry, device, verdict,
the candidate's model and median) and the rest as JSON ``detail`` (the comparison,
the candidate's kept per-iteration samples, the top layers). Rows are written
once, with their run, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controller.errors import UserError
from controller.store._codec import from_json, new_id, to_json
from controller.store._sql import Connection


def insert_run(
    conn: Connection,
    *,
    suite: str,
    started_at: float,
    finished_at: float,
    outcome: str,
    summary: dict[str, Any],
    results: Sequence[dict[str, Any]],
) -> str:
    """Store a run and its results; returns the run's id (``r`` + 8 characters)."""
    run_id = new_id(conn, "regress_runs", "r")
    conn.execute(
        "INSERT INTO regress_runs (id, suite, started_at, finished_at, outcome, summary) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (run_id, suite, started_at, finished_at, outcome, to_json(summary, "run summary")),
    )
    conn.executemany(
        "INSERT INTO regress_results (run_id, entry, device_serial, verdict, "
        "candidate_model_id, candidate_median_us, created_at, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [_result_row(run_id, started_at, r) for r in results],
    )
    return run_id


def _result_row(run_id: str, created_at: float, result: dict[str, Any]) -> tuple[Any, ...]:
    return (
        run_id,
        result["entry"],
        result["device_serial"],
        result["verdict"],
        result.get("candidate_model_id"),
        result.get("candidate_median_us"),
        created_at,
        to_json(result, "regression result"),
    )


def get_run(conn: Connection, run_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM regress_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise UserError(f"no regression run {run_id!r}")
    results = conn.execute(
        "SELECT detail FROM regress_results WHERE run_id = ? ORDER BY entry, device_serial",
        (run_id,),
    )
    return {
        "run_id": row["id"],
        "suite": row["suite"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "outcome": row["outcome"],
        "summary": from_json(row["summary"]),
        "results": [{**from_json(r["detail"]), "run_id": run_id} for r in results],
    }


def list_runs(conn: Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    """Runs newest first, each with its entries x devices counted by verdict."""
    rows = conn.execute(
        "SELECT id, suite, started_at, finished_at, outcome, summary FROM regress_runs "
        "ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?",
        (limit, offset),
    ).fetchall()
    runs = {
        r["id"]: {"run_id": r["id"], "suite": r["suite"], "started_at": r["started_at"],
                  "finished_at": r["finished_at"], "outcome": r["outcome"],
                  "summary": from_json(r["summary"]), "verdicts": {}}
        for r in rows
    }  # fmt: skip
    if runs:
        marks = ", ".join("?" for _ in runs)
        for r in conn.execute(
            "SELECT run_id, verdict, count(*) AS n FROM regress_results "
            f"WHERE run_id IN ({marks}) GROUP BY run_id, verdict ORDER BY run_id, verdict",
            tuple(runs),
        ):
            runs[r["run_id"]]["verdicts"][r["verdict"]] = int(r["n"])
    return list(runs.values())


def history(
    conn: Connection, entry: str, device_serial: str | None, limit: int
) -> list[dict[str, Any]]:
    """An entry's results, oldest first (the newest ``limit``), on one device or all."""
    where, args = "entry = ?", [entry]
    if device_serial is not None:
        where += " AND device_serial = ?"
        args.append(device_serial)
    rows = conn.execute(
        f"SELECT run_id, created_at, detail FROM regress_results WHERE {where} "
        "ORDER BY created_at DESC, run_id DESC LIMIT ?",
        (*args, limit),
    ).fetchall()
    return [
        {**from_json(r["detail"]), "run_id": r["run_id"], "created_at": r["created_at"]}
        for r in reversed(rows)
    ]


def last_good(conn: Connection, entry: str, device_serial: str) -> dict[str, Any] | None:
    """The newest result of ``entry`` on the device that was not a regression."""
    row = conn.execute(
        "SELECT run_id, created_at, detail FROM regress_results "
        "WHERE entry = ? AND device_serial = ? AND verdict NOT IN ('regression', 'error') "
        "ORDER BY created_at DESC, run_id DESC LIMIT 1",
        (entry, device_serial),
    ).fetchone()
    if row is None:
        return None
    return {**from_json(row["detail"]), "run_id": row["run_id"], "created_at": row["created_at"]}


def result_of(conn: Connection, run_id: str, entry: str, device_serial: str) -> dict[str, Any]:
    """One entry x device of a pinned run (UserError when the run has none)."""
    row = conn.execute(
        "SELECT created_at, detail FROM regress_results "
        "WHERE run_id = ? AND entry = ? AND device_serial = ?",
        (run_id, entry, device_serial),
    ).fetchone()
    if row is None:
        raise UserError(f"regression run {run_id!r} has no result for {entry!r} on {device_serial}")
    return {**from_json(row["detail"]), "run_id": run_id, "created_at": row["created_at"]}
