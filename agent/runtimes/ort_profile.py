"""ONNX Runtime profiler output (``SessionOptions.enable_profiling``) -> per-layer timings.

ORT writes a Chrome-trace JSON: one ``model_run`` event (``cat == "Session"``) per
``run()`` and, inside its time span, one ``<node>_kernel_time`` event
(``cat == "Node"``) per executed node, with ``args.op_name`` and ``args.provider``.
A node handed to the QNN EP appears as a single fused node; its per-op detail comes
from the QNN profiling CSV (``qnn_profile_csv.py``) and is spliced in here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agent.runtimes.base import ProfiledIteration
from agent.runtimes.qnn_ep import QNN_EP_NAME, QnnBackend
from agent.runtimes.qnn_profile_csv import QnnExecution, execution_layers, parse_qnn_profile_csv
from contract.layers import LayerTiming

_KERNEL_SUFFIX = "_kernel_time"
#: EPs other than QNN all execute on the application processor.
_PROVIDER_UNITS = {"CPUExecutionProvider": "CPU", "XnnpackExecutionProvider": "CPU"}


@dataclass(frozen=True)
class OrtNodeEvent:
    """One node execution inside one run."""

    name: str
    op_type: str
    provider: str
    start_us: int
    dur_us: int


@dataclass
class OrtRun:
    """One ``InferenceSession.run`` with the nodes it executed, in execution order."""

    start_us: int
    dur_us: int
    nodes: list[OrtNodeEvent] = field(default_factory=list)


def parse_ort_profile(path: Path) -> list[OrtRun]:
    """Read an ORT profile JSON into runs (session load/init events are dropped)."""
    events = json.loads(path.read_text())
    runs = sorted(
        (OrtRun(int(e["ts"]), int(e["dur"])) for e in events if _is_run(e)),
        key=lambda run: run.start_us,
    )
    nodes = sorted((_node(e) for e in events if _is_node(e)), key=lambda n: n.start_us)
    _assign(nodes, runs)
    return runs


def _is_run(event: dict) -> bool:
    return event.get("cat") == "Session" and event.get("name") == "model_run"


def _is_node(event: dict) -> bool:
    return event.get("cat") == "Node" and str(event.get("name", "")).endswith(_KERNEL_SUFFIX)


def _node(event: dict) -> OrtNodeEvent:
    args = event.get("args") or {}
    name = str(event["name"]).removesuffix(_KERNEL_SUFFIX)
    return OrtNodeEvent(
        name, str(args.get("op_name", "")), str(args.get("provider", "")), event["ts"], event["dur"]
    )


def _assign(nodes: list[OrtNodeEvent], runs: list[OrtRun]) -> None:
    """Put each node into the run whose time span holds its start (both lists sorted)."""
    index = 0
    for node in nodes:
        while index < len(runs) and node.start_us > runs[index].start_us + runs[index].dur_us:
            index += 1
        if index == len(runs):
            return
        if node.start_us >= runs[index].start_us:
            runs[index].nodes.append(node)


def layers_per_run(
    runs: list[OrtRun],
    qnn_executions: list[QnnExecution],
    qnn_compute_unit: str,
    op_types: dict[str, str],
) -> list[ProfiledIteration]:
    """One entry per run; each QNN fused node is replaced by its QNN ops.

    QNN executions are consumed in order, one per fused QNN node event, so ``runs``
    and ``qnn_executions`` must both cover the whole session (warm-up included).
    """
    pending = iter(qnn_executions)
    return [
        ProfiledIteration(_run_layers(run, pending, qnn_compute_unit, op_types), float(run.dur_us))
        for run in runs
    ]


def _run_layers(
    run: OrtRun, pending: Iterator[QnnExecution], qnn_unit: str, op_types: dict[str, str]
) -> list[LayerTiming]:
    layers: list[LayerTiming] = []
    for node in run.nodes:
        if node.provider != QNN_EP_NAME:
            unit = _PROVIDER_UNITS.get(node.provider, "CPU")
            layers.append(LayerTiming(node.name, node.op_type, unit, float(node.dur_us)))
            continue
        execution = next(pending, None)
        if execution is not None and execution.ops:
            layers.extend(execution_layers(execution, qnn_unit, op_types))
        else:
            # No QNN per-op sample (profiling off or a backend without op events):
            # the fused partition still counts, as one layer.
            layers.append(LayerTiming(node.name, "QnnGraph", qnn_unit, float(node.dur_us)))
    return layers


def profiled_layers(
    profile_json: Path, qnn_csv: Path, backend: QnnBackend | None, op_types: dict[str, str]
) -> list[ProfiledIteration]:
    """Layers of every run of a profiled session, from ORT's JSON and (if any) QNN's CSV."""
    executions = parse_qnn_profile_csv(qnn_csv) if backend and qnn_csv.is_file() else []
    unit = backend.compute_unit if backend else "CPU"
    return layers_per_run(parse_ort_profile(profile_json), executions, unit, op_types)
