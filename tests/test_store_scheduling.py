"""The store contract, part three: what the claim decides in SQL (kind, parent, device
filter, fairness across submitters). Runs against every backend in
``test_store_contract.BACKENDS``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.store import JobRecord, JobState, Store
from tests.test_store_contract import BACKEND_PARAMS, BACKENDS, ManualClock, write_model

S = JobState
DEVICE = "R5CT1234"


@pytest.fixture(params=BACKEND_PARAMS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    store = BACKENDS[request.param](tmp_path / "store", ManualClock())
    store.register_worker("w1", pid=1, hostname="lab-a")
    return store


@pytest.fixture
def model_id(store: Store, tmp_path: Path) -> str:
    return store.add_model(write_model(tmp_path)).id


def run_to_end(store: Store, job: JobRecord | None) -> JobRecord:
    """What a worker does with a claimed job, in two moves."""
    assert job is not None
    store.transition(job.id, S.MEASURING_PERFORMANCE, worker_id="w1")
    return store.transition(job.id, S.SUCCESS, worker_id="w1")


def test_a_flood_from_one_submitter_does_not_starve_another(store: Store, model_id: str) -> None:
    flood = [store.create_job("profile", model_id, submitter="alice") for _ in range(500)]
    single = store.create_job("profile", model_id, submitter="bob")
    claimed = [run_to_end(store, store.claim("w1", DEVICE)).id for _ in range(3)]
    assert single.id in claimed[:2]  # alice's first (never served, oldest), then bob's
    assert claimed == [flood[0].id, single.id, flood[1].id]


def test_submitters_are_served_in_turn_each_oldest_first(store: Store, model_id: str) -> None:
    alice = [store.create_job("profile", model_id, submitter="alice") for _ in range(3)]
    bob = [store.create_job("profile", model_id, submitter="bob") for _ in range(2)]
    order = [run_to_end(store, store.claim("w1", DEVICE)).id for _ in range(5)]
    assert order == [job.id for job in (alice[0], bob[0], alice[1], bob[1], alice[2])]


def test_the_submitter_defaults_to_devicelab_user(
    store: Store, model_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVICELAB_USER", "night-regression")
    assert store.create_job("profile", model_id).submitter == "night-regression"


def test_a_child_waits_for_its_parent_to_succeed(store: Store, model_id: str) -> None:
    parent = store.create_job("compile", model_id)
    child = store.create_job("profile", model_id, parent_job_id=parent.id)
    assert store.claim("w1", DEVICE, kinds=["profile"]) is None
    assert store.runnable_filters(["profile"]) == []
    compiled = store.claim("w1", "host-compiler", kinds=["compile"])
    assert compiled is not None and compiled.id == parent.id
    assert store.claim("w1", DEVICE, kinds=["profile"]) is None  # parent still running
    store.transition(parent.id, S.OPTIMIZING_MODEL, worker_id="w1")
    store.transition(parent.id, S.SUCCESS, worker_id="w1")
    claimed = store.claim("w1", DEVICE, kinds=["profile"])
    assert claimed is not None and claimed.id == child.id


def test_a_failed_parent_fails_its_queued_descendants_with_the_reason(
    store: Store, model_id: str
) -> None:
    parent = store.create_job("compile", model_id)
    child = store.create_job("profile", model_id, parent_job_id=parent.id)
    grandchild = store.create_job("inference", model_id, parent_job_id=child.id)
    unrelated = store.create_job("profile", model_id)
    store.transition(parent.id, S.FAILED, "converter crashed")
    failed_child, failed_grandchild = store.get_job(child.id), store.get_job(grandchild.id)
    assert failed_child.state is failed_grandchild.state is S.FAILED
    reason = f"not run: job {parent.id} it depends on failed: converter crashed"
    assert failed_child.message == reason
    assert failed_grandchild.message.startswith(f"not run: job {child.id} it depends on failed")
    assert failed_child.finished_at is not None
    assert store.get_job(unrelated.id).state is S.CREATED


def test_a_claim_takes_only_the_kinds_and_filters_asked_for(store: Store, model_id: str) -> None:
    compile_job = store.create_job("compile", model_id, device_filter={"name": "S24"})
    for_pixel = store.create_job("profile", model_id, device_filter={"name": "Pixel"})
    for_s24 = store.create_job("inference", model_id, device_filter={"name": "S24"})
    assert store.runnable_filters(["profile", "inference"]) == [{"name": "Pixel"}, {"name": "S24"}]
    devices = ["profile", "inference"]
    s24 = store.claim("w1", "s24-1", kinds=devices, device_filters=[{"name": "S24"}])
    assert s24 is not None and s24.id == for_s24.id
    assert store.claim("w1", "s24-2", kinds=devices, device_filters=[{"name": "S24"}]) is None
    assert store.claim("w1", "pixel-1", kinds=devices, device_filters=[]) is None
    host = store.claim("w1", "host-compiler", kinds=["compile"])
    assert host is not None and host.id == compile_job.id
    assert store.get_job(for_pixel.id).state is S.CREATED


def test_an_empty_claim_still_needs_a_registered_worker(store: Store) -> None:
    from controller.errors import InternalError

    with pytest.raises(InternalError, match="register_worker"):
        store.claim("ghost", DEVICE, device_filters=[])


def test_a_serial_names_a_device_on_one_host(store: Store, model_id: str) -> None:
    # Every host has a "local" device: two hosts run one job each on theirs at once.
    store.register_worker("w2", pid=2, hostname="lab-b")
    store.register_worker("w3", pid=3, hostname="lab-a")  # a second worker on lab-a
    first, second = (store.create_job("profile", model_id) for _ in range(2))
    store.create_job("profile", model_id)
    on_a = store.claim("w1", "local")
    on_b = store.claim("w2", "local")
    assert on_a is not None and on_b is not None
    assert (on_a.id, on_a.host, on_b.id, on_b.host) == (first.id, "lab-a", second.id, "lab-b")
    assert store.claim("w3", "local") is None  # lab-a's "local" is busy
    requeued = store.hand_back(on_a.id, "w1", "stopping")
    assert requeued is not None and requeued.host is requeued.device_serial is None
