"""The lab's web page (``devicelab serve``), served for real and read in a real browser.

A temp store gets real jobs run on this host's agent (one with a hostile model
name), a job no device can run (it waits in the queue), a quarantined device with
a hostile serial, and stored regression runs with a step in them. ``devicelab
serve`` then runs as a subprocess on a free port with a token; the pages are read
by headless Chromium (``--dump-dom`` after the page's own script ran, as in
tests/test_reports.py) and the JSON endpoints by urllib. A second server, on a
thread and without a token, is the read-only default.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import controller as hub
from controller.device_states import HealthSettings, JobFailed, RecoveryFailed, RecoveryStarted
from controller.errors import UserError
from controller.job_summaries import job_summaries
from controller.store import Store
from controller.web import WEB_URL_ENV, LabData, LabServer, announce, read_token, withdraw
from controller.web._address import address_file
from tests.html_dom import Dom

JOB_TIMEOUT_S = 240
BROWSER_TIMEOUT_S = 90
SERVER_START_TIMEOUT_S = 60
CHROMIUM = "/usr/bin/chromium"
TOKEN = "t0ken-for-the-web-test"
# User data that tries to become markup: it must come out as text, everywhere.
EVIL = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">&'q'"
EVIL_SERIAL = "R5<script>document.body.setAttribute('data-pwned','2')</script>"
ENTRY = "mobilenet nightly"  # a space: entry names travel quoted in URLs


@dataclass
class Lab:
    store: Store
    done: str  # a profile job that succeeded
    queued: str  # a job no device matches: it waits
    cancel_me: str  # another waiting one, for the cancel action
    runs: list[str]  # stored regression runs, oldest first


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Lab]:
    hub.set_store(tmp_path_factory.mktemp("web-store"))
    try:
        store = hub.api.current_store()
        model = hub.upload_model(models_dir / "mobilenet_like.tflite", name=EVIL)
        job = hub.submit_profile_job(
            model, options="--compute_unit cpu --max_profiler_iterations 5"
        )
        assert isinstance(job, hub.ProfileJob)
        assert job.wait(timeout=JOB_TIMEOUT_S).success
        nowhere = {"name": "Galaxy Nowhere", "os": "", "attributes": []}
        queued = store.create_job("profile", model.model_id, device_filter=nowhere)
        cancel_me = store.create_job("profile", model.model_id, device_filter=nowhere)
        _quarantine(store, EVIL_SERIAL)
        yield Lab(store, job.job_id, queued.id, cancel_me.id, _regress_runs(store))
    finally:
        hub.set_store(None)


def _quarantine(store: Store, serial: str) -> None:
    """The health machine's own path: a device failure, then a failed recovery."""
    settings = dataclasses.replace(HealthSettings.defaults(), max_recoveries=1)
    store.device_event(serial, JobFailed("adb push failed"), settings)
    store.device_event(serial, RecoveryStarted(), settings)
    moved = store.device_event(serial, RecoveryFailed("no answer", listed=True), settings)
    assert moved is not None and moved.state.value == "quarantined"


def _regress_runs(store: Store) -> list[str]:
    """Eight nightly runs of one entry: four at 1.00 ms, then four at 1.15 ms."""
    runs = []
    for night in range(8):
        median = 1000.0 + (150.0 if night >= 4 else 0.0) + night
        verdict = "regression" if night == 4 else "same"
        result = {"entry": ENTRY, "device_serial": "local", "device_name": "local",
                  "verdict": verdict, "candidate_median_us": median,
                  "baseline_median_us": 1000.0,
                  "comparison": {"ratio": median / 1000.0}}  # fmt: skip
        started = time.time() - 3600 * (8 - night)
        runs.append(store.add_regress_run("nightly", [result], outcome=verdict,
                                          started_at=started))  # fmt: skip
    return runs


@pytest.fixture(scope="module")
def served(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``devicelab serve`` on a free port, with a token, for the lab's store."""
    token_file = tmp_path_factory.mktemp("web-token") / "token"
    token_file.write_text(TOKEN + "\n")
    command = [sys.executable, "-m", "controller.cli", "--store", str(lab.store.root),
               "serve", "--port", "0", "--token-file", str(token_file)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "devicelab serve: http://127.0.0.1:PORT/ (...)"
        # No line: it exited, and its stderr says why (reading it cannot block then).
        assert line.startswith("devicelab serve: http://127.0.0.1:"), line or (
            process.stderr and process.stderr.read()
        )
        yield Served(line.split()[2].rstrip("/"), process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=SERVER_START_TIMEOUT_S)
    assert not address_file().exists()  # it withdrew its address on the way out


@pytest.fixture(scope="module")
def read_only(lab: Lab) -> Iterator[str]:
    """The default: a server without a token, on a thread of this process."""
    server = LabServer(LabData(lab.store, None, platform.node())).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


# ---------------------------------------------------------------- helpers


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return _request(urllib.request.Request(url, headers=headers or {}))


def _post(url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    status, _, body = _request(urllib.request.Request(url, method="POST", headers=headers))
    return status, json.loads(body)


def _request(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _json(url: str) -> Any:
    status, headers, body = _get(url)
    assert status == 200 and headers["Content-Type"] == "application/json", body[:300]
    return json.loads(body)


def _browse(chromium: str, url: str, profile_dir: Path) -> Dom:
    """The DOM after the page's scripts ran for 5 s of virtual time (two refreshes)."""
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile_dir}", "--virtual-time-budget=5000",
        "--dump-dom", url,
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return Dom(done.stdout)


# ---------------------------------------------------------------- pages in the browser


def test_overview_shows_devices_and_jobs_and_refreshes_itself(
    chromium: str, lab: Lab, served: Served, tmp_path: Path
) -> None:
    dom = _browse(chromium, served.url + "/", tmp_path / "profile")
    assert not dom.pwned()
    live = dom.attrs("div", id="live")
    assert live and int(live[0].get("data-refreshed") or 0) >= 1, live  # polled and swapped
    devices = {row[1]: row for row in dom.rows("devices")}
    assert devices["local"][2] == platform.node()  # host column
    assert devices["local"][3] == "available"
    quarantined = devices[EVIL_SERIAL]  # held off though no host lists it: shown as text
    assert quarantined[3].startswith("quarantined") and "release" in quarantined[3]
    assert "no answer" in quarantined[4]
    recent = {row[0]: row for row in dom.rows("recent-jobs")}
    assert recent[lab.done][1] == EVIL and recent[lab.done][3] == "success"
    assert lab.queued in {row[0] for row in dom.rows("queued-jobs")}


def test_job_page_shows_status_events_and_the_report(
    chromium: str, lab: Lab, served: Served, tmp_path: Path
) -> None:
    dom = _browse(chromium, f"{served.url}/jobs/{lab.done}", tmp_path / "profile")
    assert not dom.pwned()
    facts = dict(row for row in dom.tables["job-facts"] if len(row) == 2)
    assert facts["State"] == "success" and facts["Name"] == EVIL
    assert facts["Host"] == platform.node()
    kinds = [row[2] for row in dom.rows("events")]
    assert "load_done" in kinds and "iterations" in kinds
    frames = dom.attrs("iframe", title="report")
    assert frames and frames[0]["src"] == f"/jobs/{lab.done}/report"
    assert frames[0]["sandbox"] == "allow-scripts"
    report = _browse(chromium, f"{served.url}/jobs/{lab.done}/report", tmp_path / "profile")
    assert len(report.rows("layer-table")) > 3  # the existing report, its script ran
    assert not report.pwned()


def test_regression_history_pages(chromium: str, lab: Lab, served: Served, tmp_path: Path) -> None:
    runs = _browse(chromium, served.url + "/regress", tmp_path / "profile")
    assert [row[0] for row in runs.rows("regress-runs")] == lab.runs[::-1]  # newest first
    entry = _browse(chromium, f"{served.url}/regress/entries/{quote(ENTRY)}", tmp_path / "p2")
    points = entry.rows("regress-points")
    assert [row[0] for row in points] == lab.runs
    assert [i for i, row in enumerate(points) if row[4] == "step starts here"] == [4]
    assert len(entry.attrs("circle", **{"class": "run-point"})) == 8


# ---------------------------------------------------------------- JSON and raw HTML


def test_json_endpoints_behind_the_pages(lab: Lab, served: Served) -> None:
    overview = _json(served.url + "/api/lab")
    assert {d["serial"] for d in overview["devices"]} >= {"local", EVIL_SERIAL}
    assert [j["id"] for j in overview["queued"]] == [lab.cancel_me, lab.queued]  # newest first
    assert overview["recent"][0]["id"] == lab.done and overview["recent"][0]["name"] == EVIL
    job = _json(f"{served.url}/api/jobs/{lab.done}")
    assert job["state"] == "success" and job["report"] is True
    assert job["model"]["name"] == EVIL and job["events_total"] == len(job["events"]) > 5
    runs = _json(served.url + "/api/regress/runs")
    assert [r["run_id"] for r in runs] == lab.runs[::-1]
    assert runs[0]["verdicts"] == {"same": 1}
    run = _json(f"{served.url}/api/regress/runs/{lab.runs[4]}")
    assert run["results"][0]["verdict"] == "regression" and run["results"][0]["ratio"] == 1.154
    history = _json(f"{served.url}/api/regress/entries/{quote(ENTRY)}")
    assert [s["index"] for s in history["devices"][0]["steps"]] == [4]
    status, _, body = _get(f"{served.url}/api/jobs/jnosuchjob")
    assert status == 404 and "jnosuchjob" in json.loads(body)["message"]


def test_a_device_on_another_host_shows_with_its_last_health_reading(
    lab: Lab, served: Served
) -> None:
    """A worker on host lab-b (a PostgreSQL lab's other host) ran a job on its phone."""
    store = lab.store
    store.register_worker("w-lab-b", pid=os.getpid(), hostname="lab-b")
    pixel = {"name": "Pixel 8", "os": "", "attributes": []}
    store.create_job("profile", store.get_job(lab.done).model_id, device_filter=pixel)
    job = store.claim_next("w-lab-b", "PX8-0001", lambda wanted: wanted == pixel)
    assert job is not None and job.host == "lab-b"
    store.transition(job.id, "measuring performance", worker_id="w-lab-b")
    reading = {"battery_level": 57, "max_temperature_c": 41.5, "taken_at": time.time()}
    health = {"before": {"battery_level": 58}, "after": reading}
    store.set_result(job.id, {"devicelab": {"device_health": health}})
    store.transition(job.id, "success", worker_id="w-lab-b")
    devices = _json(served.url + "/api/lab")["devices"]
    pixel_row = next(d for d in devices if d["serial"] == "PX8-0001")
    assert (pixel_row["host"], pixel_row["state"]) == ("lab-b", "available")
    assert (pixel_row["battery_pct"], pixel_row["temperature_c"]) == (57, 41.5)
    assert pixel_row["health_job"] == job.id
    page = _get(served.url + "/live")[2].decode()
    assert "57 %" in page and "41.5 °C" in page


def test_every_value_is_escaped_in_the_markup(lab: Lab, served: Served) -> None:
    for path in ("/", "/live", f"/jobs/{lab.done}", f"/live/jobs/{lab.done}"):
        status, headers, body = _get(served.url + path)
        page = body.decode()
        assert status == 200
        assert "<img src=x" not in page and "<script>document" not in page, path
        assert "&lt;img src=x onerror=&quot;" in page or "&lt;script&gt;" in page, path
        assert "script-src" not in headers["Content-Security-Policy"]  # 'self' only
    status, headers, _ = _get(f"{served.url}/jobs/{lab.done}/report")
    assert status == 200 and "sandbox allow-scripts" in headers["Content-Security-Policy"]


def test_the_live_fragment_follows_the_store(lab: Lab, served: Served) -> None:
    before = _get(served.url + "/live")[2].decode()
    extra = lab.store.create_job("profile", lab.store.get_job(lab.done).model_id,
                                 device_filter={"name": "Galaxy Nowhere"})  # fmt: skip
    after = _get(served.url + "/live")[2].decode()
    assert extra.id not in before and extra.id in after
    lab.store.transition(extra.id, "failed", "not needed")


# ---------------------------------------------------------------- actions and tokens


def test_a_running_job_shows_on_its_device_and_cancels_from_the_page(
    lab: Lab, served: Served, models_dir: Path
) -> None:
    options = "--compute_unit cpu --max_profiler_iterations 100000 --max_profiler_time 60"
    job = hub.submit_profile_job(models_dir / "mobilenet_like.tflite", options=options)
    assert isinstance(job, hub.ProfileJob)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        overview = _json(served.url + "/api/lab")
        if job.job_id in {j["id"] for j in overview["running"]}:
            break
        assert time.monotonic() < deadline and not job.get_status().finished
        time.sleep(0.2)
    local = next(d for d in overview["devices"] if d["serial"] == "local")
    assert local["job"] == job.job_id and local["host"] == platform.node()
    assert _post(f"{served.url}/api/jobs/{job.job_id}/cancel", TOKEN)[0] == 200
    status = job.wait(timeout=30)  # the worker tells the agent within half a second
    assert status.failure and "cancelled" in (status.message or "")
    page = _get(f"{served.url}/live/jobs/{job.job_id}")[2].decode()
    assert "data-final" in page and "cancelled by the user" in page


def test_actions_are_refused_without_the_right_token(lab: Lab, served: Served) -> None:
    cancel = f"{served.url}/api/jobs/{lab.cancel_me}/cancel"
    status, _, _ = _request(urllib.request.Request(cancel, method="POST"))
    assert status == 401
    _, headers, _ = _request(urllib.request.Request(cancel, method="POST"))
    assert headers["WWW-Authenticate"] == "Bearer"
    assert _post(cancel, "wrong")[0] == 403
    assert _post(cancel, TOKEN[:-1])[0] == 403  # a prefix is not the token
    assert _get(cancel)[0] == 405  # an action is never a GET
    assert lab.store.get_job(lab.cancel_me).state.value == "created"


def test_cancel_and_release_with_the_token(lab: Lab, served: Served) -> None:
    status, said = _post(f"{served.url}/api/jobs/{lab.cancel_me}/cancel", TOKEN)
    assert status == 200, said
    record = lab.store.get_job(lab.cancel_me)
    assert record.state.value == "failed" and record.message == "cancelled by the user"
    assert _post(f"{served.url}/api/jobs/{lab.cancel_me}/cancel", TOKEN)[0] == 409
    release = f"{served.url}/api/devices/{quote(EVIL_SERIAL, safe='')}/release"
    assert _post(release)[0] == 401
    status, said = _post(release, TOKEN)
    assert status == 200 and said["state"] == "available", said
    assert lab.store.device_status(EVIL_SERIAL).takes_jobs


def test_a_server_without_a_token_is_read_only(lab: Lab, read_only: str) -> None:
    status, said = _post(f"{read_only}/api/jobs/{lab.queued}/cancel", TOKEN)
    assert status == 403 and "read-only" in said["message"]
    assert lab.store.get_job(lab.queued).state.value == "created"
    page = _get(read_only + "/")[2].decode()
    assert "data-action" not in page and "read-only" in page  # no buttons offered


def test_a_foreign_host_name_is_refused_on_loopback(read_only: str) -> None:
    """DNS rebinding: a page on another site whose name resolves to 127.0.0.1."""
    assert _get(read_only + "/api/lab", {"Host": "attacker.example:8765"})[0] == 421
    assert _get(read_only + "/api/lab", {"Host": "localhost"})[0] == 200


# ---------------------------------------------------------------- job urls


def test_job_urls_point_at_the_running_server(lab: Lab, served: Served) -> None:
    job = hub.get_job(lab.done)
    assert job.url == f"{served.url}/jobs/{lab.done}"
    summary = next(s for s in job_summaries(lab.store, limit=10) if s.job_id == lab.done)
    assert summary.url == job.url
    assert _get(job.url)[0] == 200


def test_job_urls_follow_the_announcement_and_the_variable(
    lab: Lab, read_only: str, monkeypatch: pytest.MonkeyPatch, served: Served
) -> None:
    job = hub.get_job(lab.done)
    served_record = address_file().read_text()
    try:
        announce(read_only, "some other store")
        assert job.url.startswith("file://")  # a server for another store is not this job's
        announce(read_only, lab.store.location)
        assert job.url == f"{read_only}/jobs/{lab.done}"
        withdraw()
        assert job.url.startswith("file://")
        monkeypatch.setenv(WEB_URL_ENV, "https://lab.example/devicelab/")
        assert job.url == f"https://lab.example/devicelab/jobs/{lab.done}"
    finally:
        address_file().write_text(served_record)  # the subprocess's, for its own teardown


def test_a_token_file_must_hold_a_token(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(UserError, match="expected one token"):
        read_token(empty)
    with pytest.raises(UserError, match="cannot read"):
        read_token(tmp_path / "missing")
    from controller.cli import EXIT_USER_ERROR, main

    missing = str(tmp_path / "missing")
    assert main(["serve", "--port", "0", "--token-file", missing]) == EXIT_USER_ERROR
