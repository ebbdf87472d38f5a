"""The store contract, part two: the job state machine, claiming, and orphan recovery.

Runs against every backend in ``test_store_contract.BACKENDS``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.errors import InternalError, UserError
from controller.store import TRANSITIONS, JobRecord, JobState, JobStateError, Store
from tests.test_store_contract import BACKEND_PARAMS, BACKENDS, ManualClock, write_model

S = JobState
ANY_DEVICE: Callable[[dict[str, object]], bool] = lambda device_filter: True  # noqa: E731
# How to reach each state from "created" through legal moves.
PATHS: dict[JobState, list[JobState]] = {
    S.CREATED: [],
    S.OPTIMIZING_MODEL: [S.OPTIMIZING_MODEL],
    S.QUANTIZING_MODEL: [S.QUANTIZING_MODEL],
    S.PROVISIONING_DEVICE: [S.PROVISIONING_DEVICE],
    S.MEASURING_PERFORMANCE: [S.PROVISIONING_DEVICE, S.MEASURING_PERFORMANCE],
    S.RUNNING_INFERENCE: [S.PROVISIONING_DEVICE, S.RUNNING_INFERENCE],
    S.SUCCESS: [S.OPTIMIZING_MODEL, S.SUCCESS],
    S.FAILED: [S.FAILED],
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=BACKEND_PARAMS)
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Store:
    return BACKENDS[request.param](tmp_path / "store", clock)


@pytest.fixture
def model_id(store: Store, tmp_path: Path) -> str:
    return store.add_model(write_model(tmp_path)).id


def job_in(store: Store, model_id: str, state: JobState) -> JobRecord:
    job = store.create_job("profile", model_id)
    for step in PATHS[state]:
        job = store.transition(job.id, step)
    assert job.state is state
    return job


# -- the state machine ----------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), list(itertools.product(JobState, JobState)))
def test_every_move_follows_the_table(
    store: Store, model_id: str, source: JobState, target: JobState
) -> None:
    job = job_in(store, model_id, source)
    if target in TRANSITIONS[source]:
        assert store.transition(job.id, target, "ok").state is target
    else:
        with pytest.raises(JobStateError, match=job.id):
            store.transition(job.id, target)
        assert store.get_job(job.id) == job  # a refused move changes nothing


def test_the_table_says_what_the_product_needs() -> None:
    for terminal in (S.SUCCESS, S.FAILED):
        assert TRANSITIONS[terminal] == frozenset()
    assert all(S.CREATED not in targets for targets in TRANSITIONS.values())
    assert all(
        S.FAILED in TRANSITIONS[state] for state in JobState if state not in (S.SUCCESS, S.FAILED)
    )
    profile = [S.CREATED, S.PROVISIONING_DEVICE, S.MEASURING_PERFORMANCE, S.SUCCESS]
    inference = [S.CREATED, S.PROVISIONING_DEVICE, S.RUNNING_INFERENCE, S.SUCCESS]
    compile_ = [S.CREATED, S.OPTIMIZING_MODEL, S.QUANTIZING_MODEL, S.SUCCESS]
    for path in (profile, inference, compile_):
        assert all(b in TRANSITIONS[a] for a, b in itertools.pairwise(path))
    assert S.SUCCESS not in TRANSITIONS[S.CREATED]


def test_timestamps_follow_the_job(store: Store, model_id: str, clock: ManualClock) -> None:
    job = store.create_job("profile", model_id)
    clock.advance(5)
    running = store.transition(job.id, S.PROVISIONING_DEVICE)
    clock.advance(5)
    progress = store.transition(job.id, S.PROVISIONING_DEVICE, "pushing model (40%)")
    clock.advance(5)
    done = store.transition(job.id, S.FAILED, "agent crashed")
    assert running.started_at == progress.started_at == done.started_at == running.updated_at
    assert progress.message == "pushing model (40%)" and progress.updated_at > running.updated_at
    assert done.finished_at == done.updated_at and done.finished and done.message == "agent crashed"


def test_cancelling_a_queued_job_never_starts_it(store: Store, model_id: str) -> None:
    job = store.transition(store.create_job("profile", model_id).id, "failed", "cancelled")
    assert (job.state, job.started_at, job.message) == (S.FAILED, None, "cancelled")
    assert job.finished_at is not None


def test_expect_is_a_compare_and_set(store: Store, model_id: str) -> None:
    job = job_in(store, model_id, S.MEASURING_PERFORMANCE)
    with pytest.raises(JobStateError, match="not 'provisioning device'"):
        store.transition(job.id, S.FAILED, expect=[S.PROVISIONING_DEVICE])
    done = store.transition(
        job.id, S.SUCCESS, expect=("measuring performance", S.RUNNING_INFERENCE)
    )
    assert done.state is S.SUCCESS
    with pytest.raises(JobStateError, match="has ended"):
        store.transition(job.id, S.FAILED, "too late", expect=[S.SUCCESS])


def test_transition_input_errors(store: Store, model_id: str) -> None:
    job = store.create_job("profile", model_id)
    with pytest.raises(UserError, match="unknown job state"):
        store.transition(job.id, "paused")
    with pytest.raises(UserError, match="jnothere0"):
        store.transition("jnothere0", S.FAILED)
    with pytest.raises(InternalError, match="not registered"):
        store.transition(job.id, S.OPTIMIZING_MODEL, worker_id="ghost")
    assert isinstance(JobStateError("x"), InternalError)


# -- claiming -------------------------------------------------------------------


def test_claim_takes_the_oldest_matching_job(store: Store, model_id: str) -> None:
    store.register_worker("w1", pid=1, hostname="lab")
    for_s24 = store.create_job("profile", model_id, device_filter={"name": "S24"})
    for_pixel = store.create_job("profile", model_id, device_filter={"name": "Pixel"})
    later_s24 = store.create_job("profile", model_id, device_filter={"name": "S24"})
    pixel = store.claim_next("w1", "pixel-1", lambda f: f.get("name") == "Pixel")
    assert pixel is not None and pixel.id == for_pixel.id
    assert (pixel.state, pixel.device_serial, pixel.worker_id) == (
        S.PROVISIONING_DEVICE,
        "pixel-1",
        "w1",
    )
    assert pixel.started_at is not None
    s24 = store.claim_next("w1", "s24-1", lambda f: f.get("name") == "S24")
    assert s24 is not None and s24.id == for_s24.id
    assert store.claim_next("w1", "s24-2", lambda f: f.get("name") == "Nothing") is None
    assert store.get_job(later_s24.id).state is S.CREATED


def test_a_device_runs_one_job_at_a_time(store: Store, model_id: str) -> None:
    store.register_worker("w1", pid=1, hostname="lab")
    store.register_worker("w2", pid=2, hostname="lab")
    first, second = (store.create_job("profile", model_id) for _ in range(2))
    claimed = store.claim_next("w1", "R5CT1234", ANY_DEVICE)
    assert claimed is not None and claimed.id == first.id
    assert store.claim_next("w2", "R5CT1234", ANY_DEVICE) is None
    store.transition(first.id, S.MEASURING_PERFORMANCE, worker_id="w1")
    assert store.claim_next("w1", "R5CT1234", ANY_DEVICE) is None
    store.transition(first.id, S.SUCCESS, worker_id="w1")
    again = store.claim_next("w2", "R5CT1234", ANY_DEVICE)
    assert again is not None and again.id == second.id


def test_a_failing_matcher_claims_nothing(store: Store, model_id: str) -> None:
    store.register_worker("w1", pid=1, hostname="lab")
    job = store.create_job("profile", model_id)

    def broken(device_filter: dict[str, object]) -> bool:
        raise RuntimeError("bad filter")

    with pytest.raises(RuntimeError, match="bad filter"):
        store.claim_next("w1", "R5CT1234", broken)
    assert store.get_job(job.id) == job


def test_only_registered_workers_claim(store: Store, model_id: str) -> None:
    store.create_job("profile", model_id)
    with pytest.raises(InternalError, match="register_worker"):
        store.claim_next("ghost", "R5CT1234", ANY_DEVICE)
    with pytest.raises(InternalError, match="register_worker"):
        store.heartbeat("ghost")


def test_a_worker_cannot_touch_a_job_it_lost(
    store: Store, model_id: str, clock: ManualClock
) -> None:
    store.register_worker("w1", pid=1, hostname="lab")
    job = store.create_job("profile", model_id)
    assert store.claim_next("w1", "R5CT1234", ANY_DEVICE) is not None
    clock.advance(120)
    store.register_worker("w2", pid=2, hostname="lab")
    store.recover_orphans(stale_after_s=60)
    assert store.claim_next("w2", "R5CT1234", ANY_DEVICE) is not None
    # w1 was only slow, not dead: its next step must not steal w2's run.
    with pytest.raises(JobStateError, match="held by worker 'w2'"):
        store.transition(job.id, S.MEASURING_PERFORMANCE, worker_id="w1")


# -- orphans --------------------------------------------------------------------


def test_orphans_are_requeued_then_failed(store: Store, model_id: str, clock: ManualClock) -> None:
    job = store.create_job("profile", model_id)
    for attempt in (1, 2):
        store.register_worker(f"w{attempt}", pid=attempt, hostname="lab")
        store.claim_next(f"w{attempt}", "R5CT1234", ANY_DEVICE)
        store.append_events(job.id, [(0, "load_done", f"attempt {attempt}".encode())])
        clock.advance(120)
        (requeued,) = store.recover_orphans(stale_after_s=60, max_attempts=3)
        assert (requeued.id, requeued.state, requeued.attempt) == (job.id, S.CREATED, attempt + 1)
        assert requeued.worker_id is requeued.device_serial is requeued.started_at is None
        assert f"worker w{attempt} stopped while the job was running" in requeued.message
    store.register_worker("w3", pid=3, hostname="lab")
    store.claim_next("w3", "R5CT1234", ANY_DEVICE)
    clock.advance(120)
    (failed,) = store.recover_orphans(stale_after_s=60, max_attempts=3)
    assert failed.state is S.FAILED and failed.finished_at is not None
    assert "worker w3 stopped while the job was running" in failed.message
    assert "gave up after 3 attempts" in failed.message
    assert store.recover_orphans(stale_after_s=60) == []
    # Each attempt's measurements are kept apart, none lost.
    assert [e.payload for e in store.events(job.id, attempt=1)] == [b"attempt 1"]
    assert [e.payload for e in store.events(job.id, attempt=2)] == [b"attempt 2"]
    assert store.events(job.id) == []


def test_live_workers_and_queued_jobs_are_left_alone(
    store: Store, model_id: str, clock: ManualClock
) -> None:
    store.register_worker("alive", pid=1, hostname="lab")
    running = store.create_job("profile", model_id)
    queued = store.create_job("profile", model_id)
    store.claim_next("alive", "R5CT1234", lambda f: True)
    clock.advance(50)
    store.heartbeat("alive")
    clock.advance(50)
    assert store.recover_orphans(stale_after_s=60) == []
    assert store.get_job(running.id).state is S.PROVISIONING_DEVICE
    assert store.get_job(queued.id).state is S.CREATED


def test_a_restarted_worker_gives_back_what_it_held(store: Store, model_id: str) -> None:
    store.register_worker("lab-worker", pid=100, hostname="lab")
    job = store.create_job("profile", model_id)
    store.claim_next("lab-worker", "R5CT1234", ANY_DEVICE)
    (recovered,) = store.register_worker("lab-worker", pid=200, hostname="lab")
    assert (recovered.id, recovered.state, recovered.attempt) == (job.id, S.CREATED, 2)
    assert "worker lab-worker restarted" in recovered.message


def test_a_running_job_nobody_holds_is_recovered(
    store: Store, model_id: str, clock: ManualClock
) -> None:
    job = store.transition(store.create_job("compile", model_id).id, S.OPTIMIZING_MODEL)
    clock.advance(30)
    assert store.recover_orphans(stale_after_s=60) == []
    clock.advance(60)
    (recovered,) = store.recover_orphans(stale_after_s=60)
    assert recovered.id == job.id and "no worker held the job" in recovered.message
