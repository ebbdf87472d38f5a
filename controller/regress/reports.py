"""A suite run as JUnit XML (for CI), JSON (for scripts) and one HTML page (for people).

JUnit: one ``<testcase>`` per entry x device (``classname`` suite.entry, ``name``
the device). A confirmed regression is a ``<failure>`` whose message has the
baseline and candidate medians, the ratio with its confidence interval, the
p-value and the top layers; an entry that could not run is an ``<error>``;
*unknown* is ``<skipped>`` (CI shows it, and it fails nothing); *same*,
*improvement* and *new* pass.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.regress.outcome import ERROR, SuiteRun, TargetResult
from controller.regress.stats import CONFIDENCE
from controller.reports._format import fmt_us

#: Layers named in a JUnit failure message.
MESSAGE_LAYERS = 3


def summary_line(result: TargetResult) -> str:
    """What one target concluded, in one line (JUnit message, CLI, HTML)."""
    c = result.confirmation or result.comparison
    if c is None:
        return f"{result.label}: {result.verdict}; {'; '.join(result.notes)}".rstrip("; ")
    line = (
        f"{result.label}: {result.verdict}: baseline {fmt_us(c.baseline_median_us)}, "
        f"candidate {fmt_us(c.candidate_median_us)}, ratio {c.ratio:.3f} "
        f"({CONFIDENCE:.0%} CI {c.ci_low:.3f}..{c.ci_high:.3f}), p={c.p_value:.2g}, "
        f"threshold {result.threshold_pct:g} %"
    )
    # Layers only where the model changed: for *same* / *unknown* they are noise.
    changed = result.verdict in ("regression", "improvement")
    slower = [layer for layer in result.layers if layer.excess_us > 0][:MESSAGE_LAYERS]
    if changed and slower:
        line += "; top layers: " + ", ".join(layer.describe() for layer in slower)
    return line


def junit_xml(run: SuiteRun) -> str:
    """The run as a JUnit XML document."""
    elapsed = f"{max(run.finished_at - run.started_at, 0.0):.3f}"
    counts = {
        "tests": str(len(run.results)),
        "failures": str(len(run.regressions)),
        "errors": str(len(run.errors)),
        "skipped": str(sum(r.verdict == "unknown" for r in run.results)),
        "time": elapsed,
    }
    root = ET.Element("testsuites", {"name": "devicelab regress", **counts})
    stamp = datetime.fromtimestamp(run.started_at, UTC).isoformat(timespec="seconds")
    suite = ET.SubElement(root, "testsuite", {"name": run.suite, "timestamp": stamp, **counts})
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="run_id", value=str(run.run_id or ""))
    for result in run.results:
        _testcase(suite, run.suite, result)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _testcase(parent: ET.Element, suite: str, result: TargetResult) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        classname=f"{suite}.{result.entry}",
        name=result.device_name,
        time=f"{sum(b.wall_s for b in result.blocks):.3f}",  # device time of its blocks
    )
    line = summary_line(result)
    if result.verdict == "regression":
        ET.SubElement(case, "failure", message=line, type="regression").text = _details(result)
    elif result.verdict == ERROR:
        ET.SubElement(case, "error", message=line, type="error").text = _details(result)
    elif result.verdict == "unknown":
        ET.SubElement(case, "skipped", message=line)
    ET.SubElement(case, "system-out").text = _details(result)


def _details(result: TargetResult) -> str:
    lines = [summary_line(result), f"baseline: {result.baseline}", *result.notes]
    lines += [f"layer {layer.describe()}" for layer in result.layers]
    return "\n".join(lines)


def write_junit(run: SuiteRun, path: str | Path) -> Path:
    """Write the JUnit XML report; returns its path."""
    return _write(Path(path), junit_xml(run))


def write_json(run: SuiteRun, path: str | Path) -> Path:
    """Write the whole run (verdicts, comparisons, samples, layers, history) as JSON."""
    return _write(Path(path), json.dumps(_finite(run.as_dict()), indent=2))


def write_html(run: SuiteRun, path: str | Path) -> Path:
    """Write the self-contained HTML page of the run; returns its path."""
    from controller.regress.html_page import render

    return _write(Path(path), render(run))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _finite(value: Any) -> Any:
    """JSON has no infinity: an unbounded CI is written as null."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
