"""Reading what ``qnn-profile-viewer`` prints about a ``qnn-net-run`` profiling log.

``qnn-net-run --profiling_level basic|detailed`` writes a binary log
(``<output_dir>/qnn-profiling-data_0.log``); only the SDK's viewer decodes it.
Two of its outputs are read here:

* the text summary on stdout (``--input_log LOG``): NetRun times per stage
  (``Init Stats``, ``Compose Graphs Stats``, ``Finalize Stats``, ``De-Init Stats``),
  the ``Execute Stats (Average)`` backend events, per-op cycle lines at the
  ``detailed`` level (``Backend (conv:OpId_27 (cycles)): 1234 cycles``) and the
  throughput (``NetRun IPS``). Load times come from here.
* the event CSV (``--output FILE.csv``): one row per event, one block per graph
  execution, in the same columns ONNX Runtime's QNN EP writes (``Msg Timestamp,
  Message, Time, Unit of Measurement, Timing Source, Event Level, Event
  Identifier``). Per-inference times and per-op cycles come from here, through
  the parser the QNN EP path already uses (``agent/runtimes/qnn_profile_csv.py``).

Samples: ``tests/data/vendor_tools/`` (README there names each source).
"""

from __future__ import annotations

import csv
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from agent.runtimes.qnn_profile_csv import QnnExecution, execution_layers, parse_qnn_profile_csv
from contract.layers import LayerTiming

VIEWER = "qnn-profile-viewer"
#: Stages whose NetRun times add up to "loading the model" in qnn-net-run.
LOAD_STAGES = ("Init", "Compose Graphs", "Finalize")

# "Init Stats:", "--- Init Stats:", "Execute Stats (Average):"; markdown copies keep the dashes.
_SECTION = re.compile(
    r"^[-\s]*(Init|Compose Graphs|Finalize|De-Init|Execute) Stats(?: \((\w+)\))?:"
)
_NETRUN = re.compile(r"^\s*NetRun:\s+([\d.]+)\s*us\b")
_IPS = re.compile(r"NetRun IPS[^:]*:\s+([\d.]+)\s*inf/sec")
# The identifier itself may hold parentheses: "Backend (QNN (execute) time): 2949 us".
_BACKEND = re.compile(r"^\s*Backend \((.+)\):\s+([\d.]+)\s*(\w+)\s*$")
_OP_CYCLES = re.compile(r"^(.+) \(cycles\)$")


@dataclass
class ViewerSummary:
    """The viewer's text summary of one ``qnn-net-run`` profiling log."""

    #: NetRun time (us) per stage ("Init", "Compose Graphs", "Finalize", "De-Init"),
    #: summed over graphs.
    stage_us: dict[str, float] = field(default_factory=dict)
    #: Backend events of "Execute Stats (Average)", identifier -> (value, unit).
    execute_average: dict[str, tuple[float, str]] = field(default_factory=dict)
    #: NetRun time of "Execute Stats (Average)" (us).
    netrun_average_us: float | None = None
    #: Average cycles per op (detailed level): "conv1_token_1:OpId_58" -> cycles.
    op_cycles: dict[str, float] = field(default_factory=dict)
    inferences_per_s: float | None = None

    @property
    def load_us(self) -> float:
        """Time qnn-net-run spent loading: init (or context load) + compose + finalize."""
        return sum(self.stage_us.get(stage, 0.0) for stage in LOAD_STAGES)


def parse_viewer_text(text: str) -> ViewerSummary:
    """Parse the viewer's text summary (its stdout).

    Example:
        summary = parse_viewer_text(Path("profile.txt").read_text())
        summary.stage_us["Init"], summary.netrun_average_us
    """
    summary = ViewerSummary()
    stage, kind = "", ""
    for line in text.splitlines():
        if match := _SECTION.match(line):
            stage, kind = match.group(1), match.group(2) or ""
        elif match := _IPS.search(line):
            summary.inferences_per_s = float(match.group(1))
        elif match := _NETRUN.match(line):
            _add_netrun(summary, stage, kind, float(match.group(1)))
        elif (match := _BACKEND.match(line)) and stage == "Execute" and kind == "Average":
            _add_backend(summary, match.group(1), float(match.group(2)), match.group(3))
    return summary


def _add_netrun(summary: ViewerSummary, stage: str, kind: str, value_us: float) -> None:
    if stage == "Execute":
        if kind == "Average":
            summary.netrun_average_us = value_us
    elif stage:
        summary.stage_us[stage] = summary.stage_us.get(stage, 0.0) + value_us


def _add_backend(summary: ViewerSummary, identifier: str, value: float, unit: str) -> None:
    op = _OP_CYCLES.match(identifier)
    if op and "OpId_" in identifier:  # "conv:OpId_27 (cycles)", "Input OpId_2 (cycles)"
        summary.op_cycles[op.group(1)] = value
    else:
        summary.execute_average[identifier] = (value, unit)


def parse_viewer_csv(path: Path) -> list[QnnExecution]:
    """Graph executions from the viewer's event CSV, in execution order.

    The viewer pads columns after commas on some versions; the rows are normalised
    to the exact header ``parse_qnn_profile_csv`` expects, so both paths share
    one parser.
    """
    with tempfile.TemporaryDirectory(prefix="qnn-viewer-csv-") as scratch:
        normalised = Path(scratch) / path.name
        with (
            path.open(newline="", errors="replace") as src,
            normalised.open("w", newline="") as dst,
        ):
            writer = csv.writer(dst)
            for row in csv.reader(src, skipinitialspace=True):
                writer.writerow(cell.strip() for cell in row)
        return parse_qnn_profile_csv(normalised)


def execution_latencies_us(executions: list[QnnExecution]) -> list[int]:
    """Per-inference time of each execution: the backend's ``QNN (execute) time``."""
    return [round(e.execute_us) for e in executions if e.execute_us is not None]


def layers_of(execution: QnnExecution, compute_unit: str) -> list[LayerTiming]:
    """Per-op rows of one execution; HTP time is apportioned by cycles (``execution_layers``)."""
    return execution_layers(execution, compute_unit, {})
