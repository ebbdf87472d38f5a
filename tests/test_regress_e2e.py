"""``devicelab regress run`` as a lab runs it at night, on this host's real agent.

The models are tiny conv stacks (``controller/samples/regress_models.py``); the
"slower" candidate widens one layer's kernel from 1x1 to 9x9, which more than
doubles the whole model's work, so the verdict does not hang on this busy host's
noise (the benchmark, ``scripts/bench_regress.py``, measures the small effects).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import controller as hub
from controller import regress
from controller.cli import main
from controller.samples.regress_models import write_conv_stack
from controller.store import Store

CHROMIUM = "/usr/bin/chromium"
# Six pairs: with blocks as the unit, 6 + 6 is the least that can reach alpha 0.01.
POLICY = "[policy]\niterations = 10\nmin_pairs = 6\nmax_pairs = 6\n"
SHAPE = {"channels": 16, "size": 24, "depth": 4}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("regress-models")
    write_conv_stack(folder / "baseline.onnx", kernels={1: (1, 1)}, **SHAPE)
    write_conv_stack(folder / "unchanged.onnx", kernels={1: (1, 1)}, **SHAPE)
    write_conv_stack(folder / "slower.onnx", kernels={1: (9, 9)}, **SHAPE)
    return folder


def _suite(folder: Path, name: str, baseline: str | None, *, confirm: bool = True) -> Path:
    """A one-entry suite; ``confirm=False`` where the re-run is not what a test is about
    (it doubles a regression's device time)."""
    line = f'baseline = "{baseline}"\n' if baseline else ""
    text = (
        f"{POLICY}confirm = {str(confirm).lower()}\n\n"
        f'[[entry]]\nname = "{name}"\nmodel = "unchanged.onnx"\n{line}'
        'device = "local"\noptions = "--compute_unit cpu"\n'
    )
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_a_slower_candidate_fails_the_night_with_junit_html_and_json(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(models, "classifier", "baseline.onnx")
    out = {kind: tmp_path / f"report.{kind}" for kind in ("xml", "html", "json")}
    code = main(["regress", "run", str(suite), "--candidate", str(models / "slower.onnx"),
                 "--junit", str(out["xml"]), "--html", str(out["html"]),
                 "--json", str(out["json"]), "--quiet"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert "classifier @ local: regression" in printed

    case = ET.parse(out["xml"]).getroot().find("testsuite/testcase")
    assert case is not None and case.get("classname") == "classifier.classifier"
    failure = case.find("failure")
    assert failure is not None
    message = failure.get("message", "")
    for part in ("baseline", "candidate", "ratio", "CI", "p=", "top layers:"):
        assert part in message, message

    report = json.loads(out["json"].read_text())
    (result,) = report["results"]
    assert report["exit_code"] == 1 and result["verdict"] == "regression"
    assert result["comparison"]["ratio"] > 1.5 and result["confirmation"]["verdict"] == "regression"
    top = result["layers"][0]
    assert top["type"] == "Conv" and top["delta_us"] > 0
    assert "1" in top["name"] + top["baseline_name"]  # conv1, whatever the runtime named it
    assert {b["arm"] for b in result["blocks"]} == {"A", "B"}
    assert all(len(b["samples_us"]) == 10 for b in result["blocks"])
    assert "<script" not in out["html"].read_text()


def test_an_unchanged_candidate_passes(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _suite(models, "classifier", "baseline.onnx", confirm=False)
    assert main(["regress", "run", str(suite), "--quiet", "--seed", "1"]) == 0
    assert "classifier @ local: regression" not in capsys.readouterr().out


def test_last_good_baselines_and_the_history_through_the_python_api(
    models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Night 1 has nothing to compare with; night 2 brings the same artifact (compared
    with night 1's stored samples); night 3 a slower one (paired A/B with night 2's)."""
    suite = _suite(models, "detector", None, confirm=False)
    first = regress.run_suite(suite)
    assert (first.exit_code, first.results[0].verdict) == (0, "new")
    second = regress.run_suite(suite)
    assert second.exit_code == 0 and not second.results[0].paired
    assert second.results[0].verdict != "regression"
    third = regress.run_suite(suite, candidates=[f"detector={models / 'slower.onnx'}"])
    assert third.exit_code == 1 and third.results[0].paired
    assert third.results[0].baseline.startswith(f"run {second.run_id}")

    (history,) = regress.entry_history(regress_store(), "detector")
    assert [p["run_id"] for p in history.points] == [first.run_id, second.run_id, third.run_id]
    assert main(["regress", "history", "detector"]) == 0
    printed = capsys.readouterr().out
    assert all(run.run_id in printed for run in (first, second, third))


def regress_store() -> Store:
    return Store.default()  # the user's store, as the CLI opens it


def test_a_bad_suite_exits_2_before_any_job(
    models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(hub.get_jobs(limit=1000))
    suite = models / "bad.toml"
    suite.write_text(
        '[[entry]]\nname = "x"\nmodel = "unchanged.onnx"\noptions = "--compute_unit gpu2"\n'
    )
    assert main(["regress", "run", str(suite)]) == 2
    assert "compute_unit" in capsys.readouterr().err
    assert main(["regress", "run", str(models / "missing.toml")]) == 2
    assert len(hub.get_jobs(limit=1000)) == before


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


def test_the_html_page_renders_in_a_browser(models: Path, tmp_path: Path, chromium: str) -> None:
    run = regress.run_suite(_suite(models, "renderer", "baseline.onnx", confirm=False),
                            candidates=[str(models / "slower.onnx")])  # fmt: skip
    page = regress.write_html(run, tmp_path / "regress.html")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout  # fmt: skip
    sections = (
        'id="overview"',
        'class="chart distribution"',
        'class="chart trend"',
        'class="chart layer-deltas"',
        'class="layer-diff"',
        'data-verdict="regression"',
    )
    for part in sections:
        assert part in dom, part
    shot = tmp_path / "regress.png"
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
        capture_output=True, timeout=90, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000


@pytest.mark.slow
def test_a_suite_on_a_simulated_snapdragon(models: Path, tmp_path: Path) -> None:
    """The same suite on sim:SM8550's HTP simulator (slow: ~2 s a block here)."""
    suite = tmp_path / "sim.toml"
    suite.write_text(
        f'{POLICY}\n[[entry]]\nname = "on-htp"\nmodel = "{models / "slower.onnx"}"\n'
        f'baseline = "{models / "baseline.onnx"}"\ndevice = "sim:SM8550"\n'
        'options = "--compute_unit npu --max_profiler_iterations 3"\n'
    )
    run = regress.run_suite(suite)
    (result,) = run.results
    assert result.device_serial == "sim:SM8550" and result.verdict != "error", result.notes
    assert all(b.layer_iterations[0][0].execution_cycles is not None for b in result.blocks)
    assert {layer.compute_unit for layer in result.layers} == {"NPU"}
