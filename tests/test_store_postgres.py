"""The PostgreSQL store's own promises: many processes claim at once, work is announced
with NOTIFY, the schema is versioned, the store is chosen by URL, and a user's
script runs a job end to end on it. Against a throwaway server (tests/postgres_server.py).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg
import pytest

import controller as hub
from controller.errors import InternalError, UserError
from controller.store import SCHEMA_VERSION, JobState, Store, _postgres_schema, _schema
from controller.store._sql import without_password
from tests.postgres_server import database_url
from tests.test_store_contract import write_model

pytestmark = pytest.mark.postgresql

SPAWN = mp.get_context("spawn")
DEVICES = {"s24-a": "S24", "s24-b": "S24", "pixel-a": "Pixel"}
NOTIFY_WAIT_S = 10.0  # a bound for a hung test, not a target


def _claim_worker(
    root: str, url: str, worker_id: str, host: str, start: Any
) -> list[tuple[str, str, float, float]]:
    """Claim and finish jobs on its host's devices until nothing is runnable."""
    store = Store(Path(root), url=url)
    store.register_worker(worker_id, pid=os.getpid(), hostname=host)
    start.wait(timeout=60)
    runs = []
    while store.list_jobs(limit=1, state=JobState.CREATED):
        for serial, name in DEVICES.items():
            job = store.claim_next(worker_id, serial, lambda f, n=name: f.get("name") in (None, n))
            if job is None:
                continue
            began = time.monotonic()
            store.transition(job.id, JobState.MEASURING_PERFORMANCE, worker_id=worker_id)
            store.append_events(job.id, [(0, "done", worker_id.encode())])
            time.sleep(0.003)  # the device's time
            ended = time.monotonic()
            store.transition(job.id, JobState.SUCCESS, worker_id=worker_id)
            runs.append((job.id, f"{host}/{serial}", began, ended))
    return runs


def test_processes_on_two_hosts_never_share_a_job_or_a_device(tmp_path: Path) -> None:
    # Two hosts with the same three serials, two worker processes on each.
    url = database_url(tmp_path)
    store = Store(tmp_path / "store", url=url)
    model_id = store.add_model(write_model(tmp_path)).id
    filters = [{"name": "S24"}, {"name": "Pixel"}, {}]
    jobs = {
        store.create_job("profile", model_id, device_filter=filters[i % 3]).id: filters[i % 3]
        for i in range(150)
    }
    with SPAWN.Manager() as manager, SPAWN.Pool(4) as pool:
        start = manager.Barrier(4)
        pending = [
            pool.apply_async(
                _claim_worker, (str(tmp_path / f"w{i}"), url, f"w{i}", f"lab-{i % 2}", start)
            )
            for i in range(4)
        ]
        runs = [run for result in pending for run in result.get(timeout=120)]
    assert sorted(job_id for job_id, _, _, _ in runs) == sorted(jobs)  # each exactly once
    by_device: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for job_id, device, began, ended in runs:
        assert jobs[job_id].get("name") in (None, DEVICES[device.split("/")[1]])
        by_device[device].append((began, ended))
    for spans in by_device.values():
        spans.sort()
        assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))
    assert {job.state for job in store.list_jobs(limit=200)} == {JobState.SUCCESS}
    assert len({store.events(job_id)[0].payload for job_id in jobs}) > 1
    assert {device.split("/")[0] for _, device, _, _ in runs} == {"lab-0", "lab-1"}


def test_work_is_announced_to_listeners_in_other_processes(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    listener, submitter = Store(tmp_path / "a", url=url), Store(tmp_path / "b", url=url)
    woken, stop = threading.Event(), threading.Event()
    try:
        assert listener.listen(woken.set, stop)
        assert woken.wait(NOTIFY_WAIT_S)  # once at start: what it may have missed
        woken.clear()
        model_id = submitter.add_model(write_model(tmp_path)).id
        assert not woken.is_set()  # an upload is no work
        job = submitter.create_job("profile", model_id)
        assert woken.wait(NOTIFY_WAIT_S)
        woken.clear()
        submitter.register_worker("w1", pid=1, hostname="lab")
        assert submitter.claim("w1", "R5CT1234") is not None
        submitter.transition(job.id, JobState.FAILED, "cancelled")  # its device is free
        assert woken.wait(NOTIFY_WAIT_S)
    finally:
        stop.set()


def test_a_sqlite_store_says_it_cannot_announce_work(tmp_path: Path) -> None:
    assert Store(tmp_path).listen(lambda: None, threading.Event()) is False


def test_both_engines_number_their_schema_steps_alike() -> None:
    # A step added to one engine and not the other fails here (merges included).
    assert len(_postgres_schema.MIGRATIONS) == len(_schema.MIGRATIONS) == SCHEMA_VERSION
    assert _postgres_schema.SCHEMA_VERSION == SCHEMA_VERSION


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    Store(tmp_path, url=url).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE devicelab_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(InternalError, match="newer than this devicelab"):
        Store(tmp_path, url=url)


def _open_new_store(root: str, url: str, ready: Any) -> str:
    model = write_model(Path(root).parent, f"{os.getpid()}.tflite")
    ready.wait(timeout=60)
    return Store(Path(root), url=url).add_model(model).id


def test_processes_creating_one_database_at_once(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    with SPAWN.Manager() as manager, SPAWN.Pool(3) as pool:
        ready = manager.Barrier(3)
        pending = [
            pool.apply_async(_open_new_store, (str(tmp_path / f"h{i}"), url, ready))
            for i in range(3)
        ]
        model_ids = {result.get(timeout=60) for result in pending}
    store = Store(tmp_path, url=url)
    assert {model.id for model in store.list_models()} == model_ids
    assert store.diagnostics()["schema_version"] == SCHEMA_VERSION


def test_messages_never_show_the_password(tmp_path: Path) -> None:
    assert without_password("postgresql://lab:s3cret@db/lab") == "postgresql://lab:***@db/lab"
    assert without_password("postgresql://lab@db/lab") == "postgresql://lab@db/lab"
    url = "postgresql://lab:s3cret@127.0.0.1:1/nowhere?connect_timeout=1"
    with pytest.raises(InternalError, match="cannot connect") as raised:
        Store(tmp_path, url=url)
    assert "s3cret" not in str(raised.value) and "lab:***@" in str(raised.value)


def test_the_store_is_chosen_by_url_folder_or_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = database_url(tmp_path)
    monkeypatch.setenv("DEVICELAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DEVICELAB_STORE", url)
    chosen = Store.default()
    assert chosen.url == url and chosen.root == tmp_path / "home" / "store"
    assert Store.open(tmp_path / "folder").location == str(tmp_path / "folder" / "store.db")
    with pytest.raises(UserError, match="postgresql://"):
        Store(tmp_path, url="mysql://lab@db/lab")


def test_a_script_runs_a_job_end_to_end_on_a_postgresql_store(
    tmp_path: Path, models_dir: Path
) -> None:
    url = database_url(tmp_path)
    hub.set_store(url)
    try:
        job = hub.submit_profile_job(
            models_dir / "tiny_cnn.onnx",
            hub.Device("local"),
            options="--compute_unit cpu --max_profiler_iterations 3",
        )
        assert job.wait(240).success
        profile = job.download_profile()
        assert len(profile["execution_summary"]["all_inference_times"]) == 3
        record = Store(tmp_path / "other-host", url=url).get_job(job.job_id)
        assert record.state is JobState.SUCCESS and record.submitter
    finally:
        hub.set_store(None)


def test_the_cli_takes_the_store_as_an_option(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import json

    from controller import cli

    url = database_url(tmp_path)
    monkeypatch.setenv("DEVICELAB_STORE", "")  # restored after the test: the CLI sets it
    model = Store(tmp_path / "other-host", url=url).add_model(models_dir / "tiny_cnn.onnx")
    try:
        assert cli.main(["--store", url, "models", "--json"]) == 0
    finally:
        monkeypatch.delenv("DEVICELAB_STORE")  # the CLI set it; later tests use the default
        hub.set_store(None)
    assert [entry["id"] for entry in json.loads(capsys.readouterr().out)] == [model.id]


_WITHOUT_PSYCOPG = """
import sys, tempfile
class NoPsycopg:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "psycopg":
            raise ImportError("No module named 'psycopg'")
sys.meta_path.insert(0, NoPsycopg())
import controller
from controller.store import Store
Store(tempfile.mkdtemp()).close()  # SQLite needs no psycopg
Store(tempfile.mkdtemp(), url="postgresql://lab@db-host/lab")
"""


def test_without_psycopg_only_a_postgresql_store_is_refused_naming_the_extra() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PSYCOPG], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "UserError: a PostgreSQL store needs psycopg" in done.stderr
    assert "pip install 'devicelab[postgresql]'" in done.stderr


def test_a_script_set_on_a_postgresql_store_leaves_its_job_to_a_daemon(
    tmp_path: Path, models_dir: Path
) -> None:
    import subprocess
    import sys

    from controller import daemon

    url, home = database_url(tmp_path), tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICELAB_")}
    code = (
        "import controller as hub\n"
        f"hub.set_store({url!r})\n"  # not the variable: the daemon must be told the URL
        f"print(hub.submit_profile_job({str(models_dir / 'tiny_cnn.onnx')!r}, "
        "options='--compute_unit cpu --max_profiler_iterations 3').job_id)"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={
                **env,
                "DEVICELAB_HOME": str(home),
                "DEVICELAB_WORKER": "daemon",
                # the suite's local agent runs on the venv's Python (tests/conftest.py)
                "DEVICELAB_LOCAL_RUNTIME": os.environ.get("DEVICELAB_LOCAL_RUNTIME", "current"),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        job_id = done.stdout.split()[-1]
        store = Store(tmp_path / "reader", url=url)
        deadline = time.monotonic() + 240
        while not store.get_job(job_id).finished:
            assert time.monotonic() < deadline, "the daemon did not finish the job"
            time.sleep(0.2)
        assert store.get_job(job_id).state is JobState.SUCCESS
    finally:
        daemon.stop_worker(home / "store", timeout_sec=10)
