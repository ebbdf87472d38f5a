"""An old SQLite store is upgraded in place, never lost: a store as the released schema
version 2 wrote it opens with this devicelab, keeps every row, and claims as today."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from controller.store import SCHEMA_VERSION, JobState, Store, _schema

NOW = 1_700_000_000.0


def write_version_2_store(root: Path) -> None:
    """The store a devicelab of schema version 2 left behind: a model, a failed compile
    job, the profile job queued after it (chained by "after" in its device filter, as
    that version did) and a plain queued job."""
    root.mkdir(parents=True)
    raw = sqlite3.connect(root / "store.db")
    for statement in (*_schema.MIGRATIONS[0], *_schema.MIGRATIONS[1]):
        raw.execute(statement)
    raw.execute("PRAGMA user_version = 2")
    raw.execute(
        "INSERT INTO models VALUES ('mold00001', 'net.onnx', 'onnx', 'ab', 3, ?, '{}')", (NOW,)
    )
    jobs = [
        ("jparent01", "compile", "failed", "converter crashed", '{"kind": "compile"}', None),
        ("jchild001", "profile", "created", "", '{"after": "jparent01"}', "jparent01"),
        ("jplain001", "profile", "created", "", "{}", None),
    ]
    for job_id, kind, state, message, device_filter, parent in jobs:
        raw.execute(
            "INSERT INTO jobs (id, kind, name, state, message, model_id, device_filter, "
            "parent_job_id, created_at, updated_at) VALUES (?, ?, 'net', ?, ?, 'mold00001', ?, "
            "?, ?, ?)",
            (job_id, kind, state, message, device_filter, parent, NOW, NOW),
        )
    raw.commit()
    raw.close()


def test_a_version_2_store_is_upgraded_in_place(tmp_path: Path) -> None:
    write_version_2_store(tmp_path / "store")
    store = Store(tmp_path / "store")
    assert store.diagnostics()["schema_version"] == SCHEMA_VERSION
    assert store.get_model("mold00001").name == "net.onnx"
    assert [job.id for job in store.list_jobs()] == ["jplain001", "jchild001", "jparent01"]
    child = store.get_job("jchild001")
    assert child.state is JobState.FAILED  # its parent had failed: it would wait forever
    assert child.message == "not run: job jparent01 it depends on failed: converter crashed"
    assert child.submitter == ""
    store.register_worker("w1", pid=1, hostname="lab")
    claimed = store.claim_next("w1", "R5CT1234", lambda device_filter: True)
    assert claimed is not None and claimed.id == "jplain001"
    new = store.create_job("profile", "mold00001", device_filter={}, submitter="carol")
    assert store.get_job(new.id).submitter == "carol"
    # and the upgraded file is still a plain SQLite store any later devicelab reopens
    assert Store(tmp_path / "store").get_job("jparent01").message == "converter crashed"
