"""The reports of a suite run, from hand-made results (the e2e tests render real runs):
what CI reads in the JUnit XML, and that names from a suite stay text in the page."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from controller.regress.blame import LayerChange
from controller.regress.blocks import Block
from controller.regress.outcome import SuiteRun, TargetResult
from controller.regress.reports import junit_xml, write_html, write_json
from controller.regress.stats import Comparison, Verdict
from controller.regress.suite import Policy

EVIL = "<img src=x onerror=alert(1)> & 'q'"


def _comparison(ratio: float, verdict: Verdict, p: float = 1e-4) -> Comparison:
    return Comparison(1000.0, 1000.0 * ratio, ratio, ratio - 0.02, ratio + 0.02, p, p,
                      60, 60, 0.03, 0.01, verdict)  # fmt: skip


def _run() -> SuiteRun:
    slow = LayerChange(EVIL, "conv3", "Conv", "CPU", "type+position", 20.0, 114.0, 3e-6, 0.9,
                       excess_us=90.0)  # fmt: skip
    block = Block("A", 0, "jabcdefgh", [1000, 1010, 990], health={"before": {"thermal_status": 3}})
    block.discarded = "thermal status 3 (throttling) before the block"
    results = [
        TargetResult(EVIL, "local", "local", "regression", "baseline.onnx (paired A/B)",
                     comparison=_comparison(1.12, Verdict.REGRESSION),
                     confirmation=_comparison(1.11, Verdict.REGRESSION), layers=[slow],
                     blocks=[block], baseline_samples_us=[1000, 1010, 990],
                     candidate_samples_us=[1120, 1130, 1110]),
        TargetResult("detector", "sim:SM8550", "Snapdragon 8 Gen 2 (simulated)", "unknown",
                     "last good", comparison=_comparison(1.02, Verdict.UNKNOWN, p=0.2),
                     notes=["still unknown after 12 block pairs (the budget)"]),
        TargetResult("tracker", "local", "local", "error", "baseline.onnx",
                     notes=["could not be measured: the model failed to load"]),
    ]  # fmt: skip
    return SuiteRun("nightly", Policy(), 1_796_000_000.0, 1_796_000_100.0, results, "rabcdefgh")


def test_junit_has_one_testcase_per_entry_and_device_that_ci_reads() -> None:
    root = ET.fromstring(junit_xml(_run()))
    suite = root.find("testsuite")
    assert suite is not None
    counts = [suite.get(k) for k in ("tests", "failures", "errors", "skipped")]
    assert counts == ["3", "1", "1", "1"]
    regression, unknown, error = suite.findall("testcase")
    failure = regression.find("failure")
    assert failure is not None and failure.get("type") == "regression"
    message = failure.get("message", "")
    for part in ("baseline 1.00 ms", "candidate 1.11 ms", "ratio 1.110", "CI 1.090..1.130",
                 "p=0.0001", "top layers:", EVIL):  # fmt: skip
        assert part in message, (part, message)
    assert unknown.find("skipped") is not None and unknown.get("name").endswith("(simulated)")
    assert error.find("error") is not None and "failed to load" in error.find("error").get(
        "message"
    )


def test_names_from_the_suite_stay_text_in_the_page(tmp_path: Path) -> None:
    page = write_html(_run(), tmp_path / "r.html").read_text()
    assert "<img" not in page and "&lt;img src=x" in page
    assert "<script" not in page and "http" not in page  # self-contained
    assert 'class="discarded"' in page and "thermal status 3" in page


def test_json_keeps_every_sample_and_has_no_infinity(tmp_path: Path) -> None:
    run = _run()
    run.results[1].comparison = Comparison(0, 0, 1.0, 0.0, float("inf"), 1.0, 1.0, 0, 0, 0.03,
                                           0.01, Verdict.UNKNOWN)  # fmt: skip
    data = json.loads(write_json(run, tmp_path / "r.json").read_text())
    assert data["exit_code"] == 1 and data["outcome"] == "regression"
    assert data["results"][0]["candidate_samples_us"] == [1120, 1130, 1110]
    assert data["results"][1]["comparison"]["ci"] == [0.0, None]
