"""The HTML report and the Chrome trace, from real agent runs and from edge-case dicts.

Real results come from the public API (the real agent over real gRPC, as in
test_profile_local). The HTML is then opened in a real headless browser
(Debian's ``chromium``): ``--dump-dom`` gives the DOM after the page's own
script ran, and ``--screenshot`` proves it renders. Those tests skip, saying
why, where chromium is not installed.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

import controller as hub
from controller.reports import chrome_trace, render_html, write_chrome_trace, write_html_report
from tests.html_dom import Dom

JOB_TIMEOUT_SEC = 240
BROWSER_TIMEOUT_SEC = 90
CHROMIUM = "/usr/bin/chromium"
# User data that tries to become markup: it must come out as text, everywhere.
EVIL = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\"> & 'q'"
EVIL_SCRIPT = "<script>document.body.setAttribute('data-pwned','2')</script>"


# ---------------------------------------------------------------- helpers


def _profile(model: Path, options: str) -> dict[str, Any]:
    job = hub.submit_profile_job(model, options=options)
    status = job.wait(timeout=JOB_TIMEOUT_SEC)
    assert status.success, status.message
    return job.download_profile()


def _bars(dom: Dom) -> list[dict[str, str | None]]:
    return [a for t, a in dom.tags if t == "rect" and a.get("class") == "bar"]


_GEOMETRY = {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"}


def assert_svg_geometry_finite(dom: Dom) -> None:
    """No NaN or infinity leaked into a chart (a division by a zero range would)."""
    for tag, attrs in dom.tags:
        for name in _GEOMETRY & set(attrs):
            if tag != "svg":
                assert math.isfinite(float(attrs[name] or "nan")), (tag, attrs)
        for pair in (attrs.get("points") or "").split():
            assert all(math.isfinite(float(v)) for v in pair.split(",")), pair


def _result(
    latencies: list[int] | None = None,
    layers: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A handcrafted result with the cloud service's shape."""
    latencies = latencies or []
    summary = {
        "estimated_inference_time": sorted(latencies)[len(latencies) // 2] if latencies else 0,
        "estimated_inference_peak_memory": 50 << 20,
        "first_load_time": 12_000,
        "first_load_peak_memory": 40 << 20,
        "warm_load_time": 3_000,
        "warm_load_peak_memory": 41 << 20,
        "all_inference_times": latencies,
        "all_first_load_times": [12_000],
        "all_warm_load_times": [3_000],
        "all_compile_times": [],
    }
    return {
        "execution_summary": summary,
        "execution_detail": layers or [],
        "devicelab": extra or {},
    }


def _layer(name: str, time_us: float, unit: str = "CPU", **more: Any) -> dict[str, Any]:
    return {"name": name, "type": "Conv", "compute_unit": unit, "execution_time": time_us, **more}


# ---------------------------------------------------------------- real runs


@pytest.fixture(scope="module")
def tflite_result(models_dir: Path) -> dict[str, Any]:
    return _profile(
        models_dir / "mobilenet_like.tflite", "--compute_unit cpu --max_profiler_iterations 20"
    )


@pytest.fixture(scope="module")
def qnn_result(models_dir: Path) -> dict[str, Any]:
    result = _profile(
        models_dir / "tiny_cnn_qdq.onnx", "--compute_unit npu --max_profiler_iterations 3"
    )
    result["devicelab"]["model_name"] = "tiny_cnn_qdq.onnx"
    return result


def test_html_of_a_real_litert_run_has_every_section(tflite_result: dict, tmp_path: Path) -> None:
    path = write_html_report(tflite_result, tmp_path / "sub" / "report.html", top_layers=5)
    page = path.read_text(encoding="utf-8")
    dom = Dom(page)
    layers = tflite_result["execution_detail"]
    for section in ("summary", "layers", "latency", "health", "options"):
        assert dom.count("section", id=section) == 1
    assert len(dom.layer_rows) == len(layers)
    assert len(_bars(dom)) == 5
    assert dom.count("circle", **{"class": "point"}) == 20  # one dot per timed iteration
    assert tflite_result["devicelab"]["job_id"] in page
    assert "--compute_unit cpu --max_profiler_iterations 20" in page
    # The slowest layer heads both the chart and the table.
    slowest = max(layers, key=lambda e: e["execution_time"])["name"]
    assert dom.layer_rows[0][1] == slowest


def test_html_is_self_contained(tflite_result: dict) -> None:
    page = render_html(tflite_result)
    dom = Dom(page)
    assert "http" not in page and "url(" not in page and "@import" not in page
    assert not [a for _, a in dom.tags if "src" in a or "href" in a]
    assert dom.count("style") == 1 and dom.count("script") == 1


def test_html_of_a_real_qnn_run_shows_both_units_and_cycles(qnn_result: dict) -> None:
    dom = Dom(render_html(qnn_result))
    units = {bar["data-unit"] for bar in _bars(dom)}
    assert units == {"NPU", "CPU"}
    cycles = {row[1]: row[6] for row in dom.layer_rows}
    npu = [e for e in qnn_result["execution_detail"] if e["compute_unit"] == "NPU"]
    assert all(cycles[e["name"]].replace(",", "") == str(e["execution_cycles"]) for e in npu)
    assert dom.count("title") >= 1 and "tiny_cnn_qdq.onnx on local" in render_html(qnn_result)


def test_html_escapes_every_string_from_the_result() -> None:
    extra = {
        "job_id": EVIL,
        "device": EVIL_SCRIPT,
        "model_name": EVIL,
        "options": {"requested": EVIL, "effective": {EVIL: EVIL}, "given": [EVIL]},
        "applied": {
            "runtime": EVIL,
            "accelerators": [EVIL],
            "warnings": [EVIL_SCRIPT],
            "fallbacks": [EVIL],
            "settings": {EVIL: EVIL_SCRIPT},
            "inputs": [{"name": EVIL, "shape": [1], "dtype": EVIL}],
        },
        "device_health": {
            "before": {EVIL: EVIL, "cpu_governors": {EVIL: EVIL}},
            "after": {"error": EVIL_SCRIPT},
        },
    }
    layers = [_layer(EVIL, 10.0, unit=EVIL, type=EVIL_SCRIPT), _layer(EVIL_SCRIPT, 5.0)]
    page = render_html(_result([100, 200], layers, extra))
    assert EVIL not in page and EVIL_SCRIPT not in page
    dom = Dom(page)
    assert dom.count("script") == 1 and dom.count("img") == 0
    assert [row[1] for row in dom.layer_rows] == [EVIL, EVIL_SCRIPT]


def test_html_renders_an_empty_result() -> None:
    dom_page = render_html({"execution_summary": {}, "execution_detail": []})
    dom = Dom(dom_page)
    assert "No per-layer timings" in dom_page and "No timed iterations" in dom_page
    assert "No device health" in dom_page and "No options record" in dom_page
    assert not _bars(dom) and not dom.layer_rows
    assert "<title>Profile report</title>" in dom_page


def test_html_renders_one_iteration_and_one_layer() -> None:
    page = render_html(_result([4321], [_layer("only", 7.5)]))
    dom = Dom(page)
    assert dom.count("rect", **{"class": "hist-bin"}) == 1
    assert dom.count("circle", **{"class": "point"}) == 1
    assert len(_bars(dom)) == 1 and len(dom.layer_rows) == 1
    assert_svg_geometry_finite(dom)


def test_html_renders_identical_latencies_and_zero_time_layers() -> None:
    page = render_html(_result([500] * 30, [_layer("a", 0.0), _layer("b", 0.0)]))
    dom = Dom(page)
    assert len(_bars(dom)) == 2
    assert_svg_geometry_finite(dom)
    bins = [a for t, a in dom.tags if t == "rect" and a.get("class") == "hist-bin"]
    assert sum(float(b["height"] or 0) > 0 for b in bins) == 1


def test_top_layers_limits_the_chart_not_the_table() -> None:
    layers = [_layer(f"layer{i}", float(i)) for i in range(60)]
    dom = Dom(render_html(_result([10], layers), top_layers=10))
    assert len(_bars(dom)) == 10 and len(dom.layer_rows) == 60


def test_health_before_and_after_are_compared() -> None:
    health = {
        "before": {
            "battery_level": 90,
            "max_temperature_c": 35.0,
            "thermal_status": 0,
            "cpu_governors": {"cpu0": "schedutil", "cpu10": "performance"},
            "cpu_freq_khz": {"cpu0": 1_800_000},
            "thermal_zones_c": {"cpu-0": 35.0},
        },
        "after": {"battery_level": 89, "max_temperature_c": 41.5, "thermal_status": 2},
    }
    page = render_html(_result([10], [], {"device_health": health}))
    assert "Battery level" in page and "90%" in page and "89%" in page
    assert "+6.5 °C" in page and "2 (moderate)" in page
    assert "1,800" in page and "performance" in page and "Thermal zones (1" in page
    assert '<td class="num">35.0</td>' in page  # zone temperatures keep their decimal
    assert page.index(">cpu0<") < page.index(">cpu10<")


def test_health_with_only_a_before_snapshot_or_an_error() -> None:
    only_before = render_html(
        _result([10], [], {"device_health": {"before": {"battery_level": 5}}})
    )
    assert "5%" in only_before
    failed = render_html(_result([10], [], {"device_health": {"before": {"error": "adb gone"}}}))
    assert "adb gone" in failed


def test_health_of_a_host_shows_clocks_without_empty_governor_columns() -> None:
    snapshot = {"cpu_freq_khz": {"cpu0": 2_596_094}, "cooldown_wait_s": 0.001}
    health = {"before": snapshot, "after": {"cpu_freq_khz": {"cpu0": 2_000_000}}}
    page = render_html(_result([10], [], {"device_health": health}))
    assert "2,596" in page and "2,000" in page and "Governor" not in page
    assert "0.001 s" in page


# ---------------------------------------------------------------- chrome trace

_METADATA_NAMES = {"process_name", "process_sort_index", "thread_name", "thread_sort_index"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def assert_valid_trace(doc: dict[str, Any]) -> None:
    """The Trace Event Format's JSON Object Format, as Perfetto and chrome://tracing read it.

    Required per the format: ``traceEvents`` (a list); every event has ``name``,
    ``ph``, ``pid``; complete events (``X``) have ``ts`` and ``dur`` in µs and a
    ``tid``; metadata events (``M``) use the documented names with their args.
    Perfetto also needs the slices of one track to nest, never partly overlap.
    """
    json.dumps(doc, allow_nan=False)
    assert isinstance(doc["traceEvents"], list)
    assert doc.get("displayTimeUnit", "ms") in {"ms", "ns"}
    assert all(isinstance(v, str) for v in doc.get("otherData", {}).values())
    named_tracks = set()
    for event in doc["traceEvents"]:
        assert isinstance(event["name"], str) and isinstance(event["pid"], int)
        if event["ph"] == "M":
            assert event["name"] in _METADATA_NAMES and isinstance(event["args"], dict)
            if event["name"] == "thread_name":
                named_tracks.add((event["pid"], event["tid"]))
        else:
            assert event["ph"] == "X" and isinstance(event["tid"], int)
            assert _is_number(event["ts"]) and _is_number(event["dur"]) and event["dur"] >= 0
            assert isinstance(event.get("args", {}), dict)
            assert (event["pid"], event["tid"]) in named_tracks or not named_tracks
    _assert_no_partial_overlap(doc["traceEvents"])


def _assert_no_partial_overlap(events: list[dict[str, Any]]) -> None:
    tracks: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for event in events:
        if event["ph"] == "X":
            tracks.setdefault((event["pid"], event["tid"]), []).append(event)
    for slices in tracks.values():
        # As Perfetto stores them: whole nanoseconds, rounded from µs.
        spans = sorted((round(e["ts"] * 1000), round(e["dur"] * 1000)) for e in slices)
        for (start, dur), (next_start, _) in zip(spans, spans[1:], strict=False):
            assert next_start >= start + dur, (start, dur, next_start)


def _track_names(doc: dict[str, Any]) -> dict[int, str]:
    return {e["tid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}


def _slices(doc: dict[str, Any], track: str) -> list[dict[str, Any]]:
    tid = {name: tid for tid, name in _track_names(doc).items()}[track]
    return [e for e in doc["traceEvents"] if e["ph"] == "X" and e["tid"] == tid]


def test_trace_of_a_real_qnn_run(qnn_result: dict, tmp_path: Path) -> None:
    path = write_chrome_trace(qnn_result, tmp_path / "out" / "job.trace.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert_valid_trace(doc)
    assert {"NPU layers", "CPU layers", "timed loop (profiler off)", "load stages"} <= set(
        _track_names(doc).values()
    )
    assert len(_slices(doc, "timed loop (profiler off)")) == 3
    assert [e["name"] for e in _slices(doc, "load stages")] == ["first load", "warm load"]
    layer_events = sorted(
        _slices(doc, "NPU layers") + _slices(doc, "CPU layers"), key=lambda e: e["ts"]
    )
    # Execution order, back to back across the unit tracks.
    assert [e["name"] for e in layer_events] == [e["name"] for e in qnn_result["execution_detail"]]
    for before, after in zip(layer_events, layer_events[1:], strict=False):
        assert after["ts"] == pytest.approx(before["ts"] + before["dur"])
    assert all("cycles" in e["args"] and e["args"]["type"] for e in _slices(doc, "NPU layers"))


def test_trace_starts_layers_with_the_first_profiled_run(tflite_result: dict) -> None:
    doc = chrome_trace(tflite_result)
    assert_valid_trace(doc)
    runs = _slices(doc, "layer-profile runs")
    assert len(runs) == tflite_result["devicelab"]["layer_profile_iterations"]
    loop = _slices(doc, "timed loop (profiler off)")
    assert runs[0]["ts"] == pytest.approx(loop[-1]["ts"] + loop[-1]["dur"])
    assert min(e["ts"] for e in _slices(doc, "CPU layers")) == pytest.approx(runs[0]["ts"])


def test_trace_of_an_empty_result_is_still_valid() -> None:
    doc = chrome_trace({"execution_summary": {}, "execution_detail": []})
    assert_valid_trace(doc)
    assert not [e for e in doc["traceEvents"] if e["ph"] == "X"]


def test_trace_keeps_odd_names_and_missing_units() -> None:
    layers = [_layer(EVIL, 1.5, unit=""), _layer("b", 2.0, unit="GPU", execution_cycles=9)]
    doc = chrome_trace(_result([7], layers, {"device": "Galaxy S24", "job_id": "j1"}))
    assert_valid_trace(doc)
    assert _slices(doc, "? layers")[0]["name"] == EVIL
    assert _slices(doc, "GPU layers")[0]["args"]["cycles"] == 9
    assert doc["otherData"]["device"] == "Galaxy S24"


# ---------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


def _browse(chromium: str, page: Path, profile_dir: Path, *flags: str) -> str:
    """Run headless chromium on a local file, with nothing reaching the network."""
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile_dir}", *flags, page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_SEC, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_browser_dom_has_the_rows_and_bars(chromium: str, qnn_result: dict, tmp_path: Path) -> None:
    page = write_html_report(qnn_result, tmp_path / "report.html")
    dom = Dom(_browse(chromium, page, tmp_path / "profile", "--dump-dom"))
    layers = qnn_result["execution_detail"]
    assert len(dom.layer_rows) == len(layers)
    assert len(_bars(dom)) == len(layers)
    assert dom.count("svg") == 4  # unit share, layer bars, histogram, timeline


def test_browser_sorts_the_table_on_click(chromium: str, tmp_path: Path) -> None:
    layers = [_layer(name, t) for name, t in (("b", 3.0), ("c", 1.0), ("a", 2.0))]
    page = render_html(_result([10, 20], layers))
    click = "<script>document.querySelectorAll('#layer-table th')[1].click()</script>"
    path = tmp_path / "sort.html"
    path.write_text(page.replace("</body>", f"{click}</body>"), encoding="utf-8")
    dom = Dom(_browse(chromium, path, tmp_path / "profile", "--dump-dom"))
    assert [row[1] for row in dom.layer_rows] == ["a", "b", "c"]


def test_browser_runs_no_markup_from_the_result(chromium: str, tmp_path: Path) -> None:
    layers = [_layer(EVIL, 2.0), _layer(EVIL_SCRIPT, 1.0)]
    extra = {"model_name": EVIL_SCRIPT, "applied": {"warnings": [EVIL]}}
    page = write_html_report(_result([10], layers, extra), tmp_path / "evil.html")
    dom = Dom(_browse(chromium, page, tmp_path / "profile", "--dump-dom"))
    assert all("data-pwned" not in attrs for attrs in dom.attrs_of("body"))
    assert [row[1] for row in dom.layer_rows] == [EVIL, EVIL_SCRIPT]


def test_browser_screenshot(chromium: str, tflite_result: dict, tmp_path: Path) -> None:
    page = write_html_report(tflite_result, tmp_path / "report.html")
    shot = tmp_path / "report.png"
    _browse(chromium, page, tmp_path / "profile", f"--screenshot={shot}",
            "--window-size=1280,2000", "--hide-scrollbars")  # fmt: skip
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 2000)  # IHDR width, height
    assert len(data) > 50_000  # a blank page compresses to a few kB


def test_a_simulated_run_and_its_warnings_are_said_before_any_number() -> None:
    extra = {
        "simulated": True,
        "simulation": {
            "soc": "Snapdragon 8 Gen 2",
            "note": "Qualcomm's HTP simulator on this host's CPU",
            "stands_in_for": {"name": "Samsung Galaxy S23"},
        },
        "warnings": ["NPU NOT USED: --compute_unit npu was asked, but <all> ran on CPU"],
    }
    page = render_html(_result([100, 200], [], extra))
    notice = page.index("Simulated Snapdragon 8 Gen 2")
    assert "standing in for Samsung Galaxy S23" in page
    assert "NPU NOT USED" in page and "&lt;all&gt;" in page  # escaped like every value
    assert notice < page.index('class="cards"')
    assert "Simulated" not in render_html(_result([100, 200], [], {"simulated": False}))
