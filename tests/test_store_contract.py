"""The store contract: what every store backend must do, written against fixtures.

A new backend joins by adding a factory to ``BACKENDS``; every test here (and in
``test_store_jobs.py``) then runs against it. SQLite-only behaviour (WAL, files,
processes) lives in ``test_store_sqlite.py``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.device_states import (
    DeviceState,
    HealthRead,
    HealthSettings,
    JobFailed,
    Recovered,
    RecoveryStarted,
    Released,
)
from controller.errors import UserError
from controller.store import DeviceRecord, JobState, Store
from tests.postgres_server import database_url

StoreFactory = Callable[[Path, Callable[[], float]], Store]
BACKENDS: dict[str, StoreFactory] = {
    "sqlite": lambda root, clock: Store(root, clock=clock),
    # A database of its own per store root, on a throwaway server (tests/postgres_server.py).
    "postgresql": lambda root, clock: Store(root, clock=clock, url=database_url(root)),
}
# Each backend as a pytest parameter; PostgreSQL's carry a marker (-m 'not postgresql').
BACKEND_PARAMS = [
    pytest.param(name, marks=[pytest.mark.postgresql] if name == "postgresql" else [])
    for name in sorted(BACKENDS)
]
DAY_S = 24 * 3600.0


class ManualClock:
    """A clock the test moves by hand (time is the one thing we do not ship)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=BACKEND_PARAMS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock):
    """Opens a store on the same root each call (a second process, a restart)."""
    return lambda: BACKENDS[request.param](tmp_path / "store", clock)


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()


def write_model(directory: Path, name: str = "tiny.tflite", content: bytes = b"") -> Path:
    path = directory / name
    path.write_bytes(content or b"\x1c\x00\x00\x00TFL3" + name.encode() * 8)
    return path


def sample_data() -> dict[str, list[Any]]:
    return {
        "image": [np.full((1, 3, 4, 4), i, np.float32) for i in range(3)],
        "ids/with strange:name": [np.arange(i + 1, dtype=np.int64) for i in range(3)],
    }


# -- artifacts ----------------------------------------------------------------


def test_artifact_is_content_addressed_and_deduplicated(store: Store, tmp_path: Path) -> None:
    sha = store.put_artifact(b"weights")
    assert sha == hashlib.sha256(b"weights").hexdigest()
    source = tmp_path / "w.bin"
    source.write_bytes(b"weights")
    assert store.put_artifact(source) == sha == store.put_artifact(b"weights")
    assert store.has_artifact(sha)
    assert store.artifact_path(sha).read_bytes() == b"weights"


def test_artifacts_survive_reopening(open_store: Callable[[], Store]) -> None:
    sha = open_store().put_artifact(b"kept overnight")
    assert open_store().artifact_path(sha).read_bytes() == b"kept overnight"


def test_missing_or_malformed_artifact_is_a_user_error(store: Store) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not store.has_artifact(absent)
    with pytest.raises(UserError, match=absent):
        store.artifact_path(absent)
    with pytest.raises(UserError, match="not a sha256"):
        store.artifact_path("../../etc/passwd")


# -- models -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "model_type"),
    [
        ("a.tflite", "tflite"),
        ("b.onnx", "onnx"),
        ("c.bin", "qnn_context_binary"),
        ("d.so", "qnn_lib_aarch64_android"),
    ],
)
def test_model_round_trip(store: Store, tmp_path: Path, filename: str, model_type: str) -> None:
    path = write_model(tmp_path, filename)
    added = store.add_model(path, metadata={"source": "unit test", "opset": 17})
    assert added == store.get_model(added.id)
    assert re.fullmatch(r"m[a-z0-9]{8}", added.id)
    assert (added.name, added.model_type) == (filename, model_type)
    assert added.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert added.size_bytes == path.stat().st_size
    assert added.metadata == {"source": "unit test", "opset": 17}
    assert store.artifact_path(added.sha256).read_bytes() == path.read_bytes()
    assert store.list_models() == [added]


def test_model_name_and_type_can_be_given(store: Store, tmp_path: Path) -> None:
    path = write_model(tmp_path, "exported.model")
    added = store.add_model(path, name="resnet", model_type="onnx")
    assert (added.name, added.model_type) == ("resnet", "onnx")


def test_model_errors_name_the_problem(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="notes.txt.*pass model_type="):
        store.add_model(write_model(tmp_path, "notes.txt"))
    with pytest.raises(UserError, match="not found"):
        store.add_model(tmp_path / "missing.tflite")
    with pytest.raises(UserError, match="mnothere0"):
        store.get_model("mnothere0")
    assert store.list_models() == []


def test_same_file_twice_is_two_models_one_artifact(store: Store, tmp_path: Path) -> None:
    path = write_model(tmp_path)
    first, second = store.add_model(path), store.add_model(path)
    assert first.id != second.id and first.sha256 == second.sha256


def test_models_list_newest_first_with_paging(
    store: Store, tmp_path: Path, clock: ManualClock
) -> None:
    added = []
    for index in range(5):
        added.append(store.add_model(write_model(tmp_path, f"m{index}.tflite")))
        clock.advance(1)
    newest_first = added[::-1]
    assert store.list_models() == newest_first
    assert store.list_models(limit=2, offset=1) == newest_first[1:3]
    with pytest.raises(UserError, match="limit"):
        store.list_models(limit=-1)


# -- datasets -----------------------------------------------------------------


def test_dataset_round_trip(store: Store, clock: ManualClock) -> None:
    data = sample_data()
    added = store.add_dataset(data, name="calibration", metadata={"split": "val"})
    assert re.fullmatch(r"d[a-z0-9]{8}", added.id)
    assert added == store.get_dataset(added.id)
    assert added.created_at.timestamp() == clock.now
    assert added.expires_at.timestamp() == clock.now + 30 * DAY_S
    assert (added.name, added.metadata, added.expired) == ("calibration", {"split": "val"}, False)
    loaded = store.load_dataset(added.id)
    assert list(loaded) == list(data)  # input order is kept
    for name, samples in data.items():
        assert len(loaded[name]) == len(samples)
        for got, want in zip(loaded[name], samples, strict=True):
            assert got.dtype == want.dtype and np.array_equal(got, want)
    assert store.list_datasets() == [added]


def test_same_data_is_stored_once(store: Store) -> None:
    first, second = store.add_dataset(sample_data()), store.add_dataset(sample_data())
    assert first.id != second.id and first.sha256 == second.sha256


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({}, "non-empty dict"),
        ({"x": np.zeros(3)}, "list of arrays"),
        ({"x": []}, "no samples"),
        ({"x": [np.zeros(1)], "y": [np.zeros(1)] * 2}, "same number of samples"),
        ({"x": [[1.0, 2.0]]}, "not an array"),
        ({"x": [np.array([object()])]}, "dtype object"),
        ({"": [np.zeros(1)]}, "non-empty strings"),
    ],
)
def test_bad_datasets_are_refused(store: Store, data: Any, complaint: str) -> None:
    with pytest.raises(UserError, match=complaint):
        store.add_dataset(data)
    assert store.list_datasets() == []


def test_expired_dataset_is_listed_but_not_usable(
    store: Store, tmp_path: Path, clock: ManualClock
) -> None:
    dataset = store.add_dataset(sample_data(), ttl_days=1)
    model = store.add_model(write_model(tmp_path))
    clock.advance(DAY_S + 1)
    assert [record.expired for record in store.list_datasets()] == [True]
    for use in (store.get_dataset, store.load_dataset):
        with pytest.raises(UserError, match=f"{dataset.id}.*expired.*upload it again"):
            use(dataset.id)
    with pytest.raises(UserError, match="expired"):
        store.create_job("inference", model.id, dataset_id=dataset.id)
    with pytest.raises(UserError, match="ttl_days"):
        store.add_dataset(sample_data(), ttl_days=0)


# -- devices ------------------------------------------------------------------


def test_device_upsert_round_trip(store: Store, clock: ManualClock) -> None:
    phone = DeviceRecord(
        serial="R5CT1234",
        name="Galaxy S24",
        os_version="14",
        attributes=["os:android", "chipset:qualcomm-snapdragon-8gen3"],
        info={"soc_model": 57, "htp_arch": "v75"},
    )
    stored = store.upsert_device(phone)
    assert stored.last_seen is not None and stored.last_seen.timestamp() == clock.now
    clock.advance(60)
    updated = store.upsert_device(DeviceRecord("R5CT1234", "Galaxy S24", "15", ["os:android"]))
    board = store.upsert_device(DeviceRecord("board1", "A dev board", "6.1", [], {}))
    assert store.list_devices() == [board, updated]  # by name
    assert updated.os_version == "15" and updated.info == {}
    assert updated.last_seen is not None and updated.last_seen.timestamp() == clock.now


# -- device health (controller/device_states.py) ------------------------------


def test_a_device_never_recorded_is_available(store: Store) -> None:
    status = store.device_status("R5CT1234")
    assert status.state is DeviceState.AVAILABLE and status.takes_jobs
    assert store.device_statuses() == [] and store.device_transitions() == []


def test_device_events_move_the_state_and_store_each_transition(
    store: Store, clock: ManualClock, open_store: Callable[[], Store]
) -> None:
    settings = HealthSettings.defaults()
    failed = store.device_event("R5", JobFailed("adb gone"), settings, job_id="j1")
    assert failed is not None and failed.state is DeviceState.SUSPECT
    assert failed.reason == "adb gone" and failed.since.timestamp() == clock.now  # type: ignore[union-attr]
    clock.advance(2)
    assert store.device_event("R5", JobFailed("again"), settings) is None  # moved nothing
    started = store.device_event("R5", RecoveryStarted(), settings)
    assert started is not None and started.state is DeviceState.RECOVERING
    # A second worker offering the same event finds the device taken.
    assert store.device_event("R5", RecoveryStarted(), settings) is None
    clock.advance(3)
    store.device_event("R5", Recovered("adb reconnect"), settings)
    store.device_event("other", HealthRead({"battery_level": 3}), settings)
    reopened = open_store()
    assert reopened.device_status("R5").state is DeviceState.AVAILABLE
    assert [(s.serial, s.state) for s in reopened.device_statuses()] == [
        ("R5", DeviceState.AVAILABLE),
        ("other", DeviceState.RESTING),
    ]
    history = reopened.device_transitions("R5")
    assert [(t.from_state.value, t.to_state.value) for t in history] == [
        ("available", "suspect"),
        ("suspect", "recovering"),
        ("recovering", "available"),
    ]
    assert history[0].job_id == "j1" and history[0].reason == "adb gone"
    assert [t.at.timestamp() - history[0].at.timestamp() for t in history] == [0, 2, 5]
    assert len(reopened.device_transitions()) == 4
    assert [t.to_state for t in reopened.device_transitions(limit=1)] == [DeviceState.RESTING]


def test_only_an_available_device_takes_a_job(store: Store, tmp_path: Path) -> None:
    model = store.add_model(write_model(tmp_path))
    job = store.create_job("profile", model.id)
    # Health is per (host, serial): the worker is on the host whose health this store records.
    store.register_worker("w1", pid=1, hostname=store.host)
    settings = HealthSettings.defaults()
    store.device_event("R5", HealthRead({"battery_level": 2}), settings)
    assert store.claim_next("w1", "R5", lambda f: True) is None  # resting: the job is held
    assert store.get_job(job.id).state is JobState.CREATED
    store.device_event("R5", Released("a test"), settings)
    claimed = store.claim_next("w1", "R5", lambda f: True)
    assert claimed is not None and claimed.id == job.id


def test_a_job_its_device_failed_is_retried_then_failed_past_the_limit(
    store: Store, tmp_path: Path
) -> None:
    model = store.add_model(write_model(tmp_path))
    job = store.create_job("profile", model.id)
    store.register_worker("w1", pid=1, hostname="lab")
    assert job.retries == []
    for serial in ("R5", "R6"):
        store.claim_next("w1", serial, lambda f: True)
        queued = store.retry_after_device_failure(job.id, "w1", serial, f"{serial} lost", 2)
        assert queued is not None and queued.state is JobState.CREATED
        assert queued.worker_id is None and queued.device_serial is None
        assert f"device {serial} failed: {serial} lost" in queued.message
    assert [(r["device"], r["reason"]) for r in queued.retries] == [
        ("R5", "R5 lost"),
        ("R6", "R6 lost"),
    ]
    assert queued.attempt == 3  # each run's events stay under its own attempt
    store.claim_next("w1", "R7", lambda f: True)
    assert store.retry_after_device_failure(job.id, "w2", "R7", "lost", 2) is None  # not w2's
    failed = store.retry_after_device_failure(job.id, "w1", "R7", "[R7] agent lost", 2)
    assert failed is not None and failed.state is JobState.FAILED
    assert failed.message.startswith("[R7] agent lost") and "2 retries" in failed.message
    assert len(failed.retries) == 2
    other = store.create_job("profile", model.id)
    store.claim_next("w1", "R8", lambda f: True)
    no_retries = store.retry_after_device_failure(other.id, "w1", "R8", "[R8] agent lost", 0)
    assert no_retries is not None and no_retries.message == "[R8] agent lost"


# -- jobs ---------------------------------------------------------------------


def test_job_round_trip(store: Store, tmp_path: Path) -> None:
    model = store.add_model(write_model(tmp_path, "net.onnx"))
    dataset = store.add_dataset(sample_data())
    parent = store.create_job("compile", model.id)
    job = store.create_job(
        "inference",
        model.id,
        dataset_id=dataset.id,
        device_filter={"name": "Galaxy S24", "os": "14", "attributes": ["framework:qnn"]},
        options="--compute_unit npu",
        parent_job_id=parent.id,
    )
    assert job == store.get_job(job.id)
    assert re.fullmatch(r"j[a-z0-9]{8}", job.id)
    assert (job.kind, job.name, job.state, job.attempt) == (
        "inference",
        "net.onnx",
        JobState.CREATED,
        1,
    )
    assert (job.dataset_id, job.parent_job_id, job.options) == (
        dataset.id,
        parent.id,
        "--compute_unit npu",
    )
    assert job.device_filter["attributes"] == ["framework:qnn"]
    assert job.device_serial is job.worker_id is job.started_at is job.finished_at is None
    assert not job.running and not job.finished


def test_create_job_checks_what_it_refers_to(store: Store, tmp_path: Path) -> None:
    model = store.add_model(write_model(tmp_path))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "profile", "model_id": "mnothere0"}, "mnothere0"),
        ({"kind": "benchmark", "model_id": model.id}, "job kind"),
        ({"kind": "profile", "model_id": model.id, "dataset_id": "dnothere0"}, "dnothere0"),
        ({"kind": "profile", "model_id": model.id, "parent_job_id": "jnothere0"}, "jnothere0"),
    ]
    for arguments, complaint in cases:
        with pytest.raises(UserError, match=complaint):
            store.create_job(**arguments)
    assert store.list_jobs() == []


def test_list_jobs_filters_and_pages(store: Store, tmp_path: Path, clock: ManualClock) -> None:
    model = store.add_model(write_model(tmp_path))
    jobs = []
    for kind in ("profile", "compile", "profile", "inference"):
        jobs.append(store.create_job(kind, model.id))  # type: ignore[arg-type]
        clock.advance(1)
    store.transition(jobs[0].id, JobState.FAILED, "cancelled")
    assert [job.id for job in store.list_jobs()] == [job.id for job in reversed(jobs)]
    assert [job.id for job in store.list_jobs(kind="profile")] == [jobs[2].id, jobs[0].id]
    assert [job.id for job in store.list_jobs(state="failed")] == [jobs[0].id]
    assert [job.id for job in store.list_jobs(limit=1, offset=1)] == [jobs[2].id]
    with pytest.raises(UserError, match="unknown job state"):
        store.list_jobs(state="paused")
    with pytest.raises(UserError, match="unknown job kind"):
        store.list_jobs(kind="benchmark")  # type: ignore[arg-type]


# -- events and results -------------------------------------------------------


def test_events_are_kept_in_order_and_idempotent(
    open_store: Callable[[], Store], tmp_path: Path
) -> None:
    store = open_store()
    job = store.create_job("profile", store.add_model(write_model(tmp_path)).id)
    assert store.append_events(job.id, [(0, "load_done", b"\x01"), (1, "iterations", b"\x02")]) == 2
    # A retried stream resends 1; a late batch arrives out of order.
    assert store.append_events(job.id, [(1, "iterations", b"\x02"), (3, "done", b"\x04")]) == 1
    assert store.append_events(job.id, [(2, "layer_iteration", b"\x03")]) == 1
    events = open_store().events(job.id)  # what a new process sees after a crash
    assert [(e.seq, e.kind, e.payload) for e in events] == [
        (0, "load_done", b"\x01"),
        (1, "iterations", b"\x02"),
        (2, "layer_iteration", b"\x03"),
        (3, "done", b"\x04"),
    ]
    assert {(e.job_id, e.attempt) for e in events} == {(job.id, 1)}
    with pytest.raises(UserError, match="jnothere0"):
        store.append_events("jnothere0", [(0, "done", b"")])


def test_result_round_trip(store: Store, tmp_path: Path) -> None:
    job = store.create_job("profile", store.add_model(write_model(tmp_path)).id)
    assert store.get_result(job.id) is None
    result = {"execution_summary": {"estimated_inference_time": 1234}, "execution_detail": []}
    store.set_result(job.id, result)
    assert store.get_result(job.id) == result
    store.set_result(job.id, {"execution_summary": {}})  # a rebuilt result replaces the old one
    assert store.get_result(job.id) == {"execution_summary": {}}
    with pytest.raises(UserError, match="JSON"):
        store.set_result(job.id, {"bad": object()})
    with pytest.raises(UserError, match="jnothere0"):
        store.get_result("jnothere0")


def test_output_data_round_trip(store: Store, tmp_path: Path) -> None:
    job = store.create_job("inference", store.add_model(write_model(tmp_path)).id)
    assert store.get_output_data(job.id) is None
    outputs = {"output_0": [np.linspace(0, 1, 10, dtype=np.float32)] * 2}
    store.set_result(job.id, {"ok": True})
    sha = store.set_output_data(job.id, outputs)
    loaded = store.get_output_data(job.id)
    assert loaded is not None and store.has_artifact(sha)
    assert [a.tolist() for a in loaded["output_0"]] == [a.tolist() for a in outputs["output_0"]]
    assert store.get_result(job.id) == {"ok": True}  # outputs and result live side by side


# -- regression suite runs (controller/regress) ---------------------------------


def _night(entry: str, verdict: str, median: float, **more: Any) -> dict[str, Any]:
    blocks = [[int(median) + i % 3 for i in range(1500)]]  # long enough to be packed
    return {"entry": entry, "device_serial": "local", "verdict": verdict,
            "candidate_median_us": median, "candidate_blocks_us": blocks, **more}  # fmt: skip


def test_regress_runs_round_trip_with_their_samples(
    open_store: Callable[[], Store], clock: ManualClock
) -> None:
    store = open_store()
    results = [_night("classifier", "same", 1000.0), _night("detector", "regression", 2100.0)]
    run_id = store.add_regress_run(
        "nightly", results, outcome="regression", started_at=clock(), summary={"exit_code": 1}
    )
    assert re.fullmatch(r"r[a-z0-9]{8}", run_id)
    run = open_store().get_regress_run(run_id)
    assert (run["suite"], run["outcome"]) == ("nightly", "regression")
    assert run["summary"] == {"exit_code": 1}
    assert [r["entry"] for r in run["results"]] == ["classifier", "detector"]
    assert run["results"][0]["candidate_blocks_us"] == results[0]["candidate_blocks_us"]
    with pytest.raises(UserError, match="rnothere0"):
        store.get_regress_run("rnothere0")


def test_regress_history_is_oldest_first_and_last_good_skips_regressions(
    store: Store, clock: ManualClock
) -> None:
    ids = []
    for verdict, median in (("same", 1000.0), ("same", 1001.0), ("regression", 1100.0)):
        ids.append(store.add_regress_run("nightly", [_night("classifier", verdict, median)],
                                         outcome="pass", started_at=clock()))  # fmt: skip
        clock.advance(24 * 3600)
    history = store.regress_history("classifier")
    assert [h["run_id"] for h in history] == ids
    assert [h["candidate_median_us"] for h in store.regress_history("classifier", "local", 2)] == [
        1001.0,
        1100.0,
    ]
    assert store.regress_history("classifier", "sim:SM8550") == []
    assert store.regress_baseline("classifier", "local")["run_id"] == ids[1]
    assert store.regress_baseline("classifier", "local", ids[0])["candidate_median_us"] == 1000.0
    assert store.regress_baseline("unknown entry", "local") is None
    with pytest.raises(UserError, match="has no result for 'detector'"):
        store.regress_baseline("detector", "local", ids[0])


def test_regress_runs_are_listed_newest_first_with_their_verdicts(
    store: Store, clock: ManualClock
) -> None:
    assert store.list_regress_runs() == []
    first = store.add_regress_run("nightly", [_night("classifier", "same", 1000.0)],
                                  outcome="pass", started_at=clock())  # fmt: skip
    clock.advance(24 * 3600)
    results = [_night("classifier", "regression", 1100.0), _night("detector", "same", 900.0),
               _night("segmenter", "same", 800.0)]  # fmt: skip
    second = store.add_regress_run("nightly", results, outcome="regression", started_at=clock())
    runs = store.list_regress_runs()
    assert [r["run_id"] for r in runs] == [second, first]
    assert runs[0]["verdicts"] == {"regression": 1, "same": 2}
    assert (runs[0]["outcome"], runs[1]["verdicts"]) == ("regression", {"same": 1})
    assert [r["run_id"] for r in store.list_regress_runs(limit=1, offset=1)] == [first]
