"""QNN's profiling CSV: per-op samples of each graph execution, and their layer rows.

Two paths write it: ONNX Runtime's QNN EP (provider options ``profiling_level=detailed``
and ``profiling_file_path``) and ``qnn-profile-viewer`` on the vendor path
(``agent/runtimes/vendor/qnn_profile_viewer.py``), which both read it here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from contract.layers import LayerTiming


@dataclass(frozen=True)
class QnnOpSample:
    """One op of one QNN graph execution, as the backend reported it."""

    name: str
    type: str
    cycles: int | None
    time_us: float | None


@dataclass
class QnnExecution:
    """One QNN graph execution from the profiling CSV."""

    ops: list[QnnOpSample] = field(default_factory=list)
    accelerator_cycles: int | None = None
    accelerator_us: float | None = None
    # The whole execute call ("QNN (execute) time"): qnn-net-run's per-run latency
    # (agent/runtimes/vendor/qnn_profile_viewer.py); the ORT path times runs itself.
    execute_us: float | None = None


_ACCEL_CYCLES = "Accelerator (execute) time (cycles)"
_ACCEL_TIME = "Accelerator (execute) time"
_EXECUTE_TIME = "QNN (execute) time"


def parse_qnn_profile_csv(path: Path) -> list[QnnExecution]:
    """Split a QNN profiling CSV into graph executions (finalize rows are dropped).

    A block of rows belongs to one execution and ends with the ``QNN (execute) time``
    row; ``NODE`` rows inside it are the per-op samples.
    """
    executions: list[QnnExecution] = []
    current = QnnExecution()
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            identifier = (row.get("Event Identifier") or "").strip()
            if (row.get("Message") or "").strip() == "NODE":
                current.ops.append(_op_sample(identifier, row))
            elif identifier == _ACCEL_CYCLES:
                current.accelerator_cycles = int(float(row["Time"]))
            elif identifier == _ACCEL_TIME:
                current.accelerator_us = _microseconds(row)
            elif identifier == _EXECUTE_TIME:
                current.execute_us = _microseconds(row)
                executions.append(current)
                current = QnnExecution()
    return executions


_TO_MICROSECONDS = {"NS": 1e-3, "US": 1.0, "MS": 1e3, "S": 1e6}


def _microseconds(row: dict[str, str]) -> float:
    unit = (row.get("Unit of Measurement") or "US").strip().upper()
    return float(row["Time"]) * _TO_MICROSECONDS.get(unit, 1.0)


def _op_sample(identifier: str, row: dict[str, str]) -> QnnOpSample:
    """``conv1_token_1:OpId_23 (cycles)`` -> name ``conv1_token_1``; ``Input OpId_2`` -> Input."""
    label = identifier.removesuffix(" (cycles)").strip()
    name, _, _ = label.partition(":OpId_")
    kind = name.split(" ", 1)[0] if " OpId_" in name else ""
    unit = (row.get("Unit of Measurement") or "").strip().upper()
    if unit == "CYCLES":
        return QnnOpSample(name, kind, int(float(row["Time"])), None)
    return QnnOpSample(name, kind, None, _microseconds(row))


def execution_layers(
    execution: QnnExecution, compute_unit: str, op_types: dict[str, str]
) -> list[LayerTiming]:
    """Per-op ``LayerTiming`` rows of one QNN execution.

    HTP reports cycles per op but time only for the whole graph, so an op's time is its
    share of the accelerator execute time, in proportion to its cycles.
    """
    total = execution.accelerator_cycles or sum(op.cycles or 0 for op in execution.ops)
    layers = []
    for op in execution.ops:
        time_us = op.time_us
        if time_us is None and op.cycles is not None and total and execution.accelerator_us:
            time_us = execution.accelerator_us * op.cycles / total
        op_type = op_types.get(op.name) or op.type or "QNN"
        layers.append(LayerTiming(op.name, op_type, compute_unit, time_us or 0.0, op.cycles))
    return layers
