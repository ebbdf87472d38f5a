"""Nightly regression runs: suites, paired A/B, verdicts, per-layer blame, history.

    from controller import regress
    run = regress.run_suite("nightly.toml", candidates=["classifier=tonight.onnx"])
    run.exit_code                                  # 0 none, 1 a confirmed regression
    regress.write_junit(run, "junit.xml"); regress.write_html(run, "regress.html")
    regress.entry_history(store, "classifier")     # the series and its change points

Modules, one job each: ``suite`` (the TOML file), ``plan`` (devices, block order),
``blocks`` (one profile job as a block), ``health`` (throttled blocks), ``session``
(interleaved A/B with repeats), ``stats`` (verdicts), ``blame`` (per-layer),
``history`` (stored series, change points), ``run`` (the whole suite), ``outcome``
(results), ``reports`` (JUnit, JSON) / ``html_page`` / ``charts`` (the page), ``cli``
(``devicelab regress``).
"""

from __future__ import annotations

import importlib
from typing import Any

# Where each public name lives. Loaded on first use: scipy costs ~0.5 s to import,
# and the ``devicelab`` CLI registers ``regress`` on every start.
_HOMES = {
    "Comparison": "stats",
    "DeviceHistory": "history",
    "Entry": "suite",
    "Policy": "suite",
    "Step": "history",
    "Suite": "suite",
    "SuiteRun": "outcome",
    "TargetResult": "outcome",
    "Verdict": "stats",
    "change_points": "history",
    "compare": "stats",
    "entry_history": "history",
    "load_suite": "suite",
    "run_suite": "run",
    "write_html": "reports",
    "write_json": "reports",
    "write_junit": "reports",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'controller.regress' has no attribute {name!r}")
    return getattr(importlib.import_module(f"controller.regress.{_HOMES[name]}"), name)


__all__ = [
    "Comparison",
    "DeviceHistory",
    "Entry",
    "Policy",
    "Step",
    "Suite",
    "SuiteRun",
    "TargetResult",
    "Verdict",
    "change_points",
    "compare",
    "entry_history",
    "load_suite",
    "run_suite",
    "write_html",
    "write_json",
    "write_junit",
]
