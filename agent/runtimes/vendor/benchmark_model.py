"""TensorFlow Lite's ``benchmark_model``: finding it, its command line, reading its stdout.

A phone's GPU delegate and the QNN TFLite delegate are bionic libraries the
agent's glibc Python cannot load; a ``benchmark_model`` built for Android can.
The user provides that build (``DEVICELAB_BENCHMARK_MODEL`` or the job's library
dirs). Its stdout carries everything read here:

* ``count=50 first=.. curr=.. min=.. max=.. avg=.. std=..`` (newer builds add
  ``p5= median= p95=``): one line for the warm-up runs, one for the timed runs;
* ``Inference timings in us: Init: X, First inference: Y, Warmup (avg): Z,
  Inference (avg): W``;
* memory lines (``Memory footprint delta from the start of the tool (MB):
  init=.. overall=..``, ``Peak memory footprint (MB): ..``);
* with ``--enable_op_profiling=true``, the tables after ``Operator-wise Profiling
  Info for Regular Benchmark Runs:`` (``Run Order``: one row per node, ``[avg ms]``
  per call, ``[times called]`` per run).

The tool prints no per-run latencies, only these statistics. Samples:
``tests/data/vendor_tools/`` (README there names each source).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent import settings
from agent.errors import MissingLibraryError
from contract.layers import LayerTiming

BENCHMARK_MODEL = "benchmark_model"
ENV_VAR = "DEVICELAB_BENCHMARK_MODEL"
_MIB = 1024 * 1024

# Lines may carry a logger prefix: "INFO: " (newer builds) or logcat's "I tflite  : ".
_PREFIX = re.compile(r"^(?:INFO:\s*|I tflite\s*:\s*)")
_PAIRS = re.compile(r"(\w+)=([-+\d.eE]+)")
_TIMINGS = re.compile(
    r"Inference timings in us: Init: ([\d.e+]+), First inference: ([\d.e+]+), "
    r"Warmup \(avg\): ([\d.e+]+), Inference \(avg\): ([\d.e+]+)"
)
_FOOTPRINT = re.compile(r"footprint.*\(MB\):\s*init=([\d.e+]+)\s+overall=([\d.e+]+)")
_PERIODIC_PEAK = re.compile(r"peak memory footprint \(MB\) via periodic monitoring:\s*([\d.e+]+)")
_OP_SECTION = "Operator-wise Profiling Info for Regular Benchmark Runs"
_NAME_INDEX = re.compile(r"^\[(.*)\]:(\d+)$")


def find_benchmark_model(library_dirs: Sequence[str]) -> Path | None:
    """The user's benchmark_model: ``$DEVICELAB_BENCHMARK_MODEL``, else the library dirs."""
    configured = settings.text(ENV_VAR)
    candidates = [Path(configured)] if configured else []
    candidates += [Path(d) / BENCHMARK_MODEL for d in library_dirs]
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def require_benchmark_model(library_dirs: Sequence[str]) -> Path:
    """Like ``find_benchmark_model``, naming what is missing and where it was looked for.

    Raises:
        MissingLibraryError: No executable benchmark_model on the device.
    """
    found = find_benchmark_model(library_dirs)
    if found is not None:
        return found
    searched = [f"${ENV_VAR}={settings.text(ENV_VAR) or '(unset)'}", *library_dirs]
    raise MissingLibraryError(
        f"{BENCHMARK_MODEL} not found: set {ENV_VAR} on the device to a TensorFlow Lite "
        f"benchmark_model built for it (bazel build -c opt --config=android_arm64 "
        f"//tensorflow/lite/tools/benchmark:benchmark_model) or put it in the job's library "
        f"dirs (searched: {', '.join(searched)})"
    )


def benchmark_argv(
    tool: Path, model: Path, runs: int, warmup_runs: int, max_secs: float, flags: list[str]
) -> list[str]:
    """The command line: exactly ``runs`` timed runs unless ``max_secs`` runs out first.

    ``min_secs`` / ``warmup_min_secs`` default to 1 s / 0.5 s and would add runs past
    the count asked for, so both are zeroed.
    """
    return [
        str(tool),
        f"--graph={model}",
        f"--num_runs={runs}",
        "--min_secs=0",
        f"--max_secs={max_secs:g}",
        f"--warmup_runs={warmup_runs}",
        "--warmup_min_secs=0",
        *flags,
    ]


@dataclass(frozen=True)
class RunStats:
    """One ``count=... avg=...`` line (microseconds)."""

    count: int
    values: dict[str, float]

    def get(self, key: str) -> float | None:
        """``first``, ``curr``, ``min``, ``max``, ``avg``, ``std``, ``median``, ... or None."""
        return self.values.get(key)


@dataclass(frozen=True)
class OpRow:
    """One node of the op-profiling ``Run Order`` table."""

    node_type: str
    name: str
    index: int | None
    first_ms: float
    avg_ms: float  # per call
    times_called: int  # per run


@dataclass
class BenchmarkOutput:
    """Everything read from one benchmark_model stdout."""

    init_us: float | None = None
    first_inference_us: float | None = None
    warmup_avg_us: float | None = None
    inference_avg_us: float | None = None
    warmup: RunStats | None = None
    runs: RunStats | None = None
    init_memory_bytes: int | None = None
    overall_memory_bytes: int | None = None
    ops: list[OpRow] = field(default_factory=list)
    op_runs: RunStats | None = None  # "Timings (microseconds)" of the profiled runs
    failure: str | None = None


def parse_benchmark_output(text: str) -> BenchmarkOutput:
    """Parse benchmark_model's stdout (any build that prints the lines above)."""
    out = BenchmarkOutput()
    lines = [_PREFIX.sub("", line.rstrip("\n")) for line in text.splitlines()]
    stats = [_stats(line) for line in lines if line.startswith("count=")]
    stats = [s for s in stats if s is not None]
    # Warm-up first, timed runs last (a build that skips warm-up prints only one).
    out.runs = stats[-1] if stats else None
    out.warmup = stats[0] if len(stats) > 1 else None
    for line in lines:
        if match := _TIMINGS.search(line):
            t = [float(v) for v in match.groups()]
            out.init_us, out.first_inference_us, out.warmup_avg_us, out.inference_avg_us = t
        elif match := _FOOTPRINT.search(line):
            out.init_memory_bytes = int(float(match.group(1)) * _MIB)
            out.overall_memory_bytes = int(float(match.group(2)) * _MIB)
        elif match := _PERIODIC_PEAK.search(line):
            out.overall_memory_bytes = int(float(match.group(1)) * _MIB)
        elif line.startswith(("Failed to", "Benchmarking failed", "ERROR:")):
            out.failure = f"{out.failure}; {line.strip()}" if out.failure else line.strip()
    out.ops, out.op_runs = _op_section(lines)
    return out


def _stats(line: str) -> RunStats | None:
    pairs = {key: float(value) for key, value in _PAIRS.findall(line)}
    if "count" not in pairs:
        return None
    return RunStats(int(pairs.pop("count")), pairs)


def _op_section(lines: list[str]) -> tuple[list[OpRow], RunStats | None]:
    """Rows of the ``Run Order`` table after the regular-runs header, and its timings.

    The ``Top by Computation Time`` table that follows repeats rows; only Run Order
    (every node once, in execution order) is read.
    """
    start = next((i for i, line in enumerate(lines) if _OP_SECTION in line), None)
    header = next((i for i in range(start or 0, len(lines)) if "[node type]" in lines[i]), None)
    if start is None or header is None:
        return [], None
    columns = re.findall(r"\[([^\]]+)\]", lines[header])
    rows = []
    for line in lines[header + 1 :]:
        if not line.strip():
            break
        rows.append(_op_row(line, columns))
    timings = next(
        (_stats(line.split(":", 1)[1]) for line in lines[header:] if line.startswith("Timings (")),
        None,
    )
    return rows, timings


def _op_row(line: str, columns: list[str]) -> OpRow:
    cells = (
        [c.strip() for c in line.split("\t") if c.strip()]
        if "\t" in line
        else (re.split(r"\s{2,}", line.strip()))
    )
    row = dict(zip(columns, cells, strict=False))
    name, index = row.get("Name", ""), None
    if match := _NAME_INDEX.match(name):
        name, index = match.group(1), int(match.group(2))
    return OpRow(
        node_type=row.get("node type", ""),
        name=name,
        index=index,
        first_ms=float(row.get("first", "0") or 0),
        avg_ms=float(row.get("avg ms", "0") or 0),
        times_called=int(float(row.get("times called", "1") or 1)),
    )


def op_layers(rows: list[OpRow], delegate_unit: str) -> list[LayerTiming]:
    """Per-node ``LayerTiming`` rows: time per run = avg per call x calls per run.

    A delegate node (``TfLiteNnapiDelegate``, ``TfLiteGpuDelegateV2``, the QNN
    delegate's kernel) ran on ``delegate_unit``; XNNPACK and builtin kernels on the CPU.
    """
    layers, seen = [], set()
    for row in rows:
        delegated = "delegate" in row.node_type.lower() and "xnnpack" not in row.node_type.lower()
        name = row.name
        if name in seen and row.index is not None:
            name = f"{name}:{row.index}"  # keep names unique within one iteration
        seen.add(name)
        time_us = row.avg_ms * max(row.times_called, 1) * 1000.0
        layers.append(
            LayerTiming(name, row.node_type, delegate_unit if delegated else "CPU", time_us)
        )
    return layers
