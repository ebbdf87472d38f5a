"""A lab of many hosts on one PostgreSQL store: artifacts every host reaches, devices and
health per host, a lost host's job taken over with its late writes refused, and a job no
live host can run. Each "host" is a ``Store`` with its own root (its artifact cache)
and ``host=``; the database is a throwaway server (tests/postgres_server.py).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from controller.device_states import JobFailed
from controller.devices import Device
from controller.lab_hosts import lab_devices, record_selected_by, unplaced_filters
from controller.store import (
    SCHEMA_VERSION,
    DeviceRecord,
    JobState,
    JobStateError,
    Store,
    _blobs,
    _schema,
)
from tests.postgres_server import database_url
from tests.test_store_contract import ManualClock, write_model

S = JobState
STALE_S = 30.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return database_url(tmp_path)


def host_store(tmp_path: Path, url: str, host: str, clock: ManualClock) -> Store:
    """The store as the host ``host`` opens it: its own folder, the shared database."""
    return Store(tmp_path / host, clock=clock, url=url, host=host)


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "size",
    [0, 1, _blobs.CHUNK_BYTES, 3 * _blobs.CHUNK_BYTES + 17],
    ids=["empty", "1B", "1chunk", "3chunks+17B"],
)
def test_a_model_uploaded_on_one_host_is_read_on_another(
    tmp_path: Path, url: str, clock: ManualClock, size: int
) -> None:
    a = host_store(tmp_path, url, "host-a", clock)
    b = host_store(tmp_path, url, "host-b", clock)
    content = os.urandom(size)
    model = a.add_model(write_model(tmp_path, "m.onnx", content or b"x"), model_type="onnx")
    assert not (tmp_path / "host-b" / "artifacts" / model.sha256[:2] / model.sha256).exists()
    assert b.has_artifact(model.sha256)
    path = b.artifact_path(b.get_model(model.id).sha256)
    assert path.read_bytes() == (content or b"x")
    assert path.is_relative_to(tmp_path / "host-b")  # now in host B's cache


@pytest.mark.postgresql
def test_the_same_bytes_uploaded_from_two_hosts_are_stored_once(
    tmp_path: Path, url: str, clock: ManualClock
) -> None:
    a = host_store(tmp_path, url, "host-a", clock)
    b = host_store(tmp_path, url, "host-b", clock)
    content = os.urandom(2 * _blobs.CHUNK_BYTES + 5)
    first = a.add_model(write_model(tmp_path, "a.onnx", content), model_type="onnx")
    second = b.add_model(write_model(tmp_path, "b.onnx", content), model_type="onnx")
    assert first.sha256 == second.sha256 and first.id != second.id
    with a._db.read() as conn:
        rows = conn.execute(
            "SELECT count(*) AS n FROM artifact_chunks WHERE sha256 = ?", (first.sha256,)
        ).fetchone()
    assert rows["n"] == 3


@pytest.mark.postgresql
def test_datasets_and_inference_outputs_reach_every_host(
    tmp_path: Path, url: str, clock: ManualClock
) -> None:
    a = host_store(tmp_path, url, "host-a", clock)
    b = host_store(tmp_path, url, "host-b", clock)
    dataset = a.add_dataset({"x": [np.arange(6, dtype=np.float32).reshape(2, 3)]})
    assert b.load_dataset(dataset.id)["x"][0].tolist() == [[0, 1, 2], [3, 4, 5]]
    model_id = a.add_model(write_model(tmp_path)).id
    job = a.create_job("inference", model_id, dataset_id=dataset.id)
    b.set_output_data(job.id, {"y": [np.ones(4, dtype=np.int8)]})
    outputs = a.get_output_data(job.id)
    assert outputs is not None and outputs["y"][0].tolist() == [1, 1, 1, 1]


@pytest.mark.postgresql
def test_a_cached_artifact_that_was_damaged_is_not_served_from_the_database_again(
    tmp_path: Path, url: str, clock: ManualClock
) -> None:
    a = host_store(tmp_path, url, "host-a", clock)
    sha = a.put_artifact(b"model bytes")
    with a._db.write() as conn:  # the database's copy damaged (a bad disk, a bad hand)
        conn.execute("UPDATE artifact_chunks SET data = ? WHERE sha256 = ?", (b"other", sha))
    b = host_store(tmp_path, url, "host-b", clock)
    with pytest.raises(Exception, match="the bytes fetched do not hash to it"):
        b.artifact_path(sha)
    assert not b._artifacts.has(sha)  # nothing half-right left in the cache


@pytest.mark.postgresql
def test_each_host_lists_its_devices_and_a_silent_host_drops_out(
    tmp_path: Path, url: str, clock: ManualClock
) -> None:
    a = host_store(tmp_path, url, "host-a", clock)
    b = host_store(tmp_path, url, "host-b", clock)
    a.register_worker("wa", pid=1, hostname="host-a")
    b.register_worker("wb", pid=2, hostname="host-b")
    a.publish_devices([DeviceRecord("R5CT1", "Samsung Galaxy S24", "14")])
    b.publish_devices([DeviceRecord("R5CT1", "Samsung Galaxy S23", "13")])  # same serial
    live = {(d.host, d.serial, d.name) for d in a.list_devices(live_within_s=STALE_S)}
    assert live == {
        ("host-a", "R5CT1", "Samsung Galaxy S24"),
        ("host-b", "R5CT1", "Samsung Galaxy S23"),
    }
    clock.now += STALE_S + 1
    a.heartbeat("wa")  # host B says nothing more
    assert {d.host for d in a.list_devices(live_within_s=STALE_S)} == {"host-a"}
    shown = lab_devices(a, [], Device(), STALE_S)
    assert shown == [] and {d.host for d in lab_devices(b, [], Device(), STALE_S)} == {"host-a"}
    a.publish_devices([])  # host A's phone unplugged
    assert a.list_devices(live_within_s=STALE_S) == []


@pytest.mark.postgresql
def test_one_serial_on_two_hosts_has_two_health_states(
    tmp_path: Path, url: str, clock: ManualClock
) -> None:
    a = host_store(tmp_path, url, "host-a", clock)
    b = host_store(tmp_path, url, "host-b", clock)
    a.device_event("R5CT1", JobFailed("adb push failed"))
    assert a.device_status("R5CT1").state.value == "suspect"
    assert b.device_status("R5CT1").state.value == "available"
    assert [s.serial for s in b.device_statuses()] == []
    model_id = b.add_model(write_model(tmp_path)).id
    b.register_worker("wb", pid=2, hostname="host-b")
    b.create_job("profile", model_id, device_filter={"name": "S24"})
    assert b.claim("wb", "R5CT1") is not None  # host A's suspect phone is not B's


@pytest.mark.postgresql
def test_a_lost_hosts_job_finishes_elsewhere_and_its_late_writes_are_refused(
    tmp_path: Path, url: str, clock: ManualClock
) -> None:
    a = host_store(tmp_path, url, "host-a", clock)
    b = host_store(tmp_path, url, "host-b", clock)
    model_id = a.add_model(write_model(tmp_path)).id
    a.register_worker("wa", pid=1, hostname="host-a")
    b.register_worker("wb", pid=2, hostname="host-b")
    job = b.create_job("profile", model_id, device_filter={"name": "S24"})
    held = a.claim("wa", "R5CT1")
    assert held is not None and held.host == "host-a"
    a.transition(job.id, S.MEASURING_PERFORMANCE, worker_id="wa")
    a.set_result(job.id, {"from": "host-a, before it was cut off"}, worker_id="wa")

    clock.now += STALE_S + 1  # host A cut off: no heartbeat
    b.heartbeat("wb")
    [recovered] = b.recover_orphans(STALE_S)
    assert recovered.state is S.CREATED and "no heartbeat" in recovered.message
    assert b.get_result(job.id) is None  # the lost run's result is no result

    taken = b.claim("wb", "R5CT9")
    assert taken is not None and taken.id == job.id and taken.host == "host-b"
    b.transition(job.id, S.MEASURING_PERFORMANCE, worker_id="wb")
    with pytest.raises(JobStateError):  # host A comes back with its result: refused
        a.set_result(job.id, {"from": "host-a"}, worker_id="wa")
    with pytest.raises(JobStateError):
        a.append_events(job.id, [(5, "late", b"")], attempt=held.attempt, worker_id="wa")
    b.set_result(job.id, {"from": "host-b"}, worker_id="wb")
    b.transition(job.id, S.SUCCESS, worker_id="wb")
    with pytest.raises(JobStateError):
        a.transition(job.id, S.SUCCESS, worker_id="wa")
    with pytest.raises(JobStateError):
        a.set_output_data(job.id, {"y": [np.zeros(1)]}, worker_id="wa")
    done = a.get_job(job.id)
    assert done.state is S.SUCCESS and done.worker_id == "wb" and done.attempt == 2
    assert a.get_result(job.id) == {"from": "host-b"}


@pytest.mark.postgresql
def test_a_job_no_live_host_can_run_waits_saying_so_then_fails(
    tmp_path: Path, url: str, clock: ManualClock
) -> None:
    a = host_store(tmp_path, url, "host-a", clock)
    a.register_worker("wa", pid=1, hostname="host-a")
    a.publish_devices([DeviceRecord("R5CT1", "Samsung Galaxy S24", "14")])
    model_id = a.add_model(write_model(tmp_path)).id
    runnable = a.create_job("profile", model_id, device_filter={"name": "Samsung Galaxy S24"})
    wanted = {"name": "Pixel 9", "os": "", "attributes": []}
    stranded = a.create_job("profile", model_id, device_filter=wanted)
    child = a.create_job("profile", model_id, device_filter={}, parent_job_id=stranded.id)

    def sweep() -> list[str]:
        live = a.list_devices(live_within_s=STALE_S)
        return a.mark_unplaced(unplaced_filters(a.runnable_filters(), live), timeout_s=60)

    assert sweep() == []
    assert a.get_job(stranded.id).message == (
        "waiting: no live host has a device this job asks for"
    )
    assert a.get_job(stranded.id).state is S.CREATED and a.get_job(runnable.id).message == ""
    clock.now += 30
    a.heartbeat("wa")
    b = host_store(tmp_path, url, "host-b", clock)  # a Pixel's host joins in time
    b.register_worker("wb", pid=2, hostname="host-b")
    b.publish_devices([DeviceRecord("PX9", "Pixel 9", "15")])
    assert sweep() == [] and a.get_job(stranded.id).message == ""
    clock.now += 31  # ... and is lost again: the wait starts over
    a.heartbeat("wa")
    assert sweep() == []
    clock.now += 59
    a.heartbeat("wa")
    assert sweep() == []
    clock.now += 2
    a.heartbeat("wa")
    assert sweep() == [stranded.id]
    failed = a.get_job(stranded.id)
    assert failed.state is S.FAILED
    assert failed.message == "no live host had a device this job asks for within 60 s"
    assert a.get_job(child.id).state is S.FAILED  # its dependant with it
    assert a.get_job(runnable.id).state is S.CREATED


def test_a_published_device_is_selected_as_a_reachable_one_frameworks_aside() -> None:
    phone = DeviceRecord("R5CT1", "Samsung Galaxy S24", "14", ["chipset:qualcomm-snapdragon-8gen3"])
    assert record_selected_by(phone, Device("Samsung Galaxy S24"))
    assert record_selected_by(phone, Device("R5CT1"))  # by its serial
    assert not record_selected_by(phone, Device("Pixel 9"))
    assert record_selected_by(phone, Device(attributes="framework:qnn"))  # its host decides
    assert not record_selected_by(phone, Device())  # no filter: a host itself ("local")
    assert record_selected_by(DeviceRecord("local", "local", ""), Device())
    chipset = ["chipset:qualcomm-snapdragon-8gen3"]
    sim = DeviceRecord("sim-8gen3", "Snapdragon 8 Gen 3 (sim)", "", chipset, {"simulated": True})
    assert not record_selected_by(sim, Device(attributes="chipset:qualcomm-snapdragon-8gen3"))


def test_an_old_sqlite_stores_device_health_is_kept_for_its_host(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    with sqlite3.connect(root / "store.db") as conn:  # a store as version 4 left it
        for version in range(4):
            for statement in _schema.MIGRATIONS[version]:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO device_health (serial, state, reason, since) "
            "VALUES ('R5CT1', 'quarantined', 'three failed recoveries', 1.0)"
        )
        conn.execute("PRAGMA user_version = 4")
    conn.close()
    store = Store(root, host="lab-1")
    assert store.diagnostics()["schema_version"] == SCHEMA_VERSION
    assert store.device_status("R5CT1").state.value == "quarantined"
    assert Store(root, host="lab-2").device_status("R5CT1").state.value == "available"
