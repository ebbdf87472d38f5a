"""The SQLite store's own promises: WAL, schema versions, many processes, crash safety.

Processes are started with ``spawn`` (a fresh interpreter, nothing inherited) so
they behave like the CLI, a script and ``devicelab worker`` running side by side.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import sqlite3
import threading
import time
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest

from controller.errors import InternalError
from controller.store import SCHEMA_VERSION, JobState, Store, _artifacts, _schema, _store
from tests.test_store_contract import write_model

SPAWN = mp.get_context("spawn")
# Devices in the concurrency test: serial -> name; jobs ask for a name or any device.
DEVICES = {"s24-a": "S24", "s24-b": "S24", "pixel-a": "Pixel"}


def test_sqlite_settings(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.diagnostics() == {
        "path": str(tmp_path / "store.db"),
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "foreign_keys": 1,
        "busy_timeout": 10_000,
        "schema_version": SCHEMA_VERSION,
    }
    raw = sqlite3.connect(tmp_path / "store.db")  # WAL is a property of the file
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    raw = sqlite3.connect(tmp_path / "store.db")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(InternalError, match="newer than this devicelab"):
        Store(tmp_path)


def test_a_migration_step_applies_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = Store(tmp_path).add_model(write_model(tmp_path))
    broken = (*_schema.MIGRATIONS, ("CREATE TABLE reports (id TEXT)", "NOT SQL AT ALL"))
    monkeypatch.setattr(_schema, "MIGRATIONS", broken)
    monkeypatch.setattr(_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(_store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(InternalError, match="syntax error"):
        Store(tmp_path)
    raw = sqlite3.connect(tmp_path / "store.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'reports'").fetchall() == []
    raw.close()
    fixed = (*_schema.MIGRATIONS[:-1], ("CREATE TABLE reports (id TEXT)",))
    monkeypatch.setattr(_schema, "MIGRATIONS", fixed)
    upgraded = Store(tmp_path)
    assert upgraded.diagnostics()["schema_version"] == SCHEMA_VERSION + 1
    assert upgraded.get_model(model.id) == model


def test_a_v2_store_upgrades_in_place_with_device_health(tmp_path: Path) -> None:
    """A store written before the device health machine (schema 2) opens as it was,
    its jobs with no retries and its devices available, and takes transitions."""
    from controller.device_states import DeviceState, JobFailed

    model_file = write_model(tmp_path)
    raw = sqlite3.connect(tmp_path / "store.db")
    for step in _schema.MIGRATIONS[:2]:
        for statement in step:
            raw.execute(statement)
    raw.execute("PRAGMA user_version = 2")
    raw.execute(
        "INSERT INTO models (id, name, model_type, sha256, size_bytes, created_at) "
        "VALUES ('mold00001', 'tiny.tflite', 'tflite', 'x', 1, 1.0)"
    )
    raw.execute(
        "INSERT INTO jobs (id, kind, name, state, model_id, created_at, updated_at) "
        "VALUES ('jold00001', 'profile', 'old', 'failed', 'mold00001', 1.0, 2.0)"
    )
    raw.commit()
    raw.close()
    store = Store(tmp_path)
    assert store.diagnostics()["schema_version"] == SCHEMA_VERSION
    old = store.get_job("jold00001")
    assert old.retries == [] and old.state is JobState.FAILED
    assert store.device_status("R5").state is DeviceState.AVAILABLE
    assert store.device_event("R5", JobFailed("adb gone")) is not None
    assert [t.reason for t in store.device_transitions("R5")] == ["adb gone"]
    assert store.add_model(model_file).name == "tiny.tflite"


def _open_new_store(root: str, ready: Any) -> str:
    model = write_model(Path(root).parent, f"{os.getpid()}.tflite")
    ready.wait(timeout=60)
    return Store(Path(root)).add_model(model).id


def test_processes_creating_one_store_at_once(tmp_path: Path) -> None:
    root = tmp_path / "new-store"
    with SPAWN.Manager() as manager, SPAWN.Pool(3) as pool:
        ready = manager.Barrier(3)
        pending = [pool.apply_async(_open_new_store, (str(root), ready)) for _ in range(3)]
        model_ids = {result.get(timeout=60) for result in pending}
    assert {model.id for model in Store(root).list_models()} == model_ids


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    model = Store(tmp_path).add_model(write_model(tmp_path))
    assert Store(tmp_path).get_model(model.id) == model


def test_each_thread_uses_its_own_connection(tmp_path: Path) -> None:
    store = Store(tmp_path)
    model_id = store.add_model(write_model(tmp_path)).id
    # The connections themselves, not their id()s: a finished thread's connection is
    # freed, and a later one may reuse its id.
    connections: set[object] = set()
    lock = threading.Lock()

    def create_jobs() -> None:
        for _ in range(10):
            store.create_job("profile", model_id)
        with lock:
            connections.add(store._db.connection())  # type: ignore[attr-defined]

    threads = [threading.Thread(target=create_jobs) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(connections) == 6
    assert len(store.list_jobs(limit=100)) == 60


# -- several processes ------------------------------------------------------------


def _add_model_in_child(root: str, model_path: str) -> str:
    return Store(Path(root)).add_model(Path(model_path), name="from child").id


def _finish_job_in_child(root: str, job_id: str) -> str:
    store = Store(Path(root))
    store.register_worker("child", pid=os.getpid(), hostname="lab")
    store.transition(job_id, JobState.OPTIMIZING_MODEL, worker_id="child")
    return store.transition(job_id, JobState.SUCCESS, "compiled", worker_id="child").message


def test_processes_see_each_others_writes(tmp_path: Path) -> None:
    store = Store(tmp_path)  # opened before the other process writes
    with SPAWN.Pool(1) as pool:
        model_id = pool.apply(_add_model_in_child, (str(tmp_path), str(write_model(tmp_path))))
        assert store.get_model(model_id).name == "from child"
        job = store.create_job("compile", model_id)
        assert pool.apply(_finish_job_in_child, (str(tmp_path), job.id)) == "compiled"
    assert store.get_job(job.id).state is JobState.SUCCESS


def _wants(device_filter: dict[str, Any], serial: str) -> bool:
    return device_filter.get("name") in (None, DEVICES[serial])


def _claim_worker(root: str, worker_id: str, start: Any) -> list[tuple[str, str, float, float]]:
    """Claim and finish jobs on the shared devices until the queue is empty."""
    store = Store(Path(root))
    store.register_worker(worker_id, pid=os.getpid(), hostname="lab")
    start.wait(timeout=60)  # all workers registered and ready: claim at the same moment
    runs = []
    while store.list_jobs(limit=1, state=JobState.CREATED):
        for serial in DEVICES:
            job = store.claim_next(worker_id, serial, partial(_wants, serial=serial))
            if job is None:
                continue
            began = time.monotonic()  # CLOCK_MONOTONIC is shared by all processes
            store.transition(job.id, JobState.MEASURING_PERFORMANCE, worker_id=worker_id)
            store.append_events(job.id, [(0, "done", worker_id.encode())])
            # The device's time: without it one process can take every job, since
            # SQLite's lock is not fair to waiters backing off in busy_timeout.
            time.sleep(0.003)
            ended = time.monotonic()
            store.transition(job.id, JobState.SUCCESS, worker_id=worker_id)
            runs.append((job.id, serial, began, ended))
    return runs


def test_concurrent_claims_never_share_a_job_or_a_device(tmp_path: Path) -> None:
    store = Store(tmp_path)
    model_id = store.add_model(write_model(tmp_path)).id
    filters = [{"name": "S24"}, {"name": "Pixel"}, {}]
    jobs = {
        store.create_job("profile", model_id, device_filter=filters[i % 3]).id: filters[i % 3]
        for i in range(150)
    }
    with SPAWN.Manager() as manager, SPAWN.Pool(4) as pool:
        start = manager.Barrier(4)
        pending = [
            pool.apply_async(_claim_worker, (str(tmp_path), f"w{i}", start)) for i in range(4)
        ]
        runs = [run for result in pending for run in result.get(timeout=60)]
    claimed = [job_id for job_id, _, _, _ in runs]
    assert sorted(claimed) == sorted(jobs)  # every job exactly once
    assert all(_wants(jobs[job_id], serial) for job_id, serial, _, _ in runs)
    by_device: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for _, serial, began, ended in runs:
        by_device[serial].append((began, ended))
    for spans in by_device.values():
        spans.sort()
        assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))
    assert {job.state for job in store.list_jobs(limit=200)} == {JobState.SUCCESS}
    workers = {store.events(job_id)[0].payload for job_id in claimed}
    assert len(workers) > 1  # the processes really did share the work


def _run_until_killed(root: str, job_id: str, measured: Any) -> None:
    store = Store(Path(root))
    store.register_worker("doomed", pid=os.getpid(), hostname="lab")
    job = store.claim_next("doomed", "R5CT1234", lambda device_filter: True)
    assert job is not None and job.id == job_id
    store.transition(job_id, JobState.MEASURING_PERFORMANCE, worker_id="doomed")
    for seq in range(3):
        store.append_events(job_id, [(seq, "iterations", b"%d" % seq)], attempt=job.attempt)
    measured.set()
    time.sleep(60)  # killed here, mid-run


def test_a_killed_worker_keeps_what_it_measured(tmp_path: Path) -> None:
    store = Store(tmp_path)
    job = store.create_job("profile", store.add_model(write_model(tmp_path)).id)
    measured = SPAWN.Event()
    worker = SPAWN.Process(target=_run_until_killed, args=(str(tmp_path), job.id, measured))
    worker.start()
    assert measured.wait(timeout=30)
    worker.kill()
    worker.join(timeout=30)
    assert [event.payload for event in store.events(job.id)] == [b"0", b"1", b"2"]
    (requeued,) = store.recover_orphans(stale_after_s=0)
    assert requeued.state is JobState.CREATED and "worker doomed stopped" in requeued.message
    assert len(store.events(job.id, attempt=1)) == 3


def test_default_store_lives_in_devicelab_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVICELAB_HOME", str(tmp_path))
    assert Store.default().root == tmp_path / "store"
    assert (tmp_path / "store" / "store.db").is_file()


def test_database_refuses_two_running_jobs_on_one_device(tmp_path: Path) -> None:
    store = Store(tmp_path)
    model_id = store.add_model(write_model(tmp_path)).id
    first, second = (store.create_job("profile", model_id).id for _ in range(2))
    raw = sqlite3.connect(tmp_path / "store.db")
    update = "UPDATE jobs SET state = 'provisioning device', device_serial = 'R5' WHERE id = ?"
    raw.execute(update, (first,))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        raw.execute(update, (second,))
    raw.close()


def test_a_store_inherited_through_fork_reconnects(tmp_path: Path) -> None:
    store = Store(tmp_path)
    model_id = store.add_model(write_model(tmp_path)).id
    context = mp.get_context("fork")
    created = context.Queue()
    # The child uses the parent's Store object as is: it must open its own connection.
    child = context.Process(target=lambda: created.put(store.create_job("profile", model_id).id))
    child.start()
    job_id = created.get(timeout=30)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert store.get_job(job_id).model_id == model_id


def test_a_store_travels_to_a_pool_as_its_location(tmp_path: Path) -> None:
    store = Store(tmp_path)
    model_id = store.add_model(write_model(tmp_path)).id
    with SPAWN.Pool(1) as pool:
        job = pool.apply(store.create_job, ("profile", model_id))
    assert store.get_job(job.id) == job


# -- crash safety -------------------------------------------------------------------


def _dying_copy(src: BinaryIO, dst: BinaryIO) -> str:
    dst.write(src.read(5))
    raise OSError("No space left on device")


def test_an_interrupted_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "store")
    model_path = write_model(tmp_path)
    monkeypatch.setattr(_artifacts, "_copy", _dying_copy)
    with pytest.raises(OSError, match="No space"):
        store.add_model(model_path)
    with pytest.raises(OSError, match="No space"):
        store.add_dataset({"x": [np.zeros(4)]})
    assert [p for p in (tmp_path / "store" / "artifacts").rglob("*") if p.is_file()] == []
    assert store.list_models() == [] and store.list_datasets() == []
    assert not store.has_artifact(hashlib.sha256(model_path.read_bytes()).hexdigest())
    monkeypatch.undo()
    assert store.add_model(model_path).sha256 == hashlib.sha256(model_path.read_bytes()).hexdigest()


def test_a_file_changing_during_the_copy_is_not_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "store")
    model_path = write_model(tmp_path)
    stale_hash = hashlib.sha256(b"what the file held when it was hashed").hexdigest()
    monkeypatch.setattr(_artifacts, "_hash_file", lambda path: stale_hash)
    with pytest.raises(InternalError, match="changed while it was being stored"):
        store.add_model(model_path)
    assert not store.has_artifact(stale_hash) and store.list_models() == []


def test_leftovers_of_a_crashed_writer_are_swept(tmp_path: Path) -> None:
    sha = hashlib.sha256(b"half").hexdigest()
    leftover = tmp_path / "artifacts" / sha[:2] / f".{sha}.abc.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"ha")
    fresh = leftover.with_name(f".{sha}.def.tmp")  # a writer that may still be copying
    fresh.write_bytes(b"h")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(leftover, (day_ago, day_ago))
    store = Store(tmp_path)
    assert not leftover.exists() and fresh.exists()
    assert not store.has_artifact(sha)


def test_a_v4_store_upgrades_in_place_with_regression_history(tmp_path: Path) -> None:
    """A store written before regression suites (schema 4) keeps its jobs and takes runs."""
    raw = sqlite3.connect(tmp_path / "store.db")
    for step in _schema.MIGRATIONS[:4]:
        for statement in step:
            raw.execute(statement)
    raw.execute("PRAGMA user_version = 4")
    raw.execute(
        "INSERT INTO models (id, name, model_type, sha256, size_bytes, created_at) "
        "VALUES ('mold00001', 'tiny.tflite', 'tflite', 'x', 1, 1.0)"
    )
    raw.commit()
    raw.close()
    store = Store(tmp_path)
    assert store.diagnostics()["schema_version"] == SCHEMA_VERSION >= 5  # v6: lab hosts
    assert store.get_model("mold00001").name == "tiny.tflite"
    night = {"entry": "classifier", "device_serial": "local", "verdict": "new"}
    run_id = store.add_regress_run("nightly", [night], outcome="pass", started_at=1.0)
    assert [r["run_id"] for r in store.regress_history("classifier")] == [run_id]
