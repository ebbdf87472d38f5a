"""The profile result: built from the agent's events, shaped like the cloud service's.

``download_profile()`` returns the dict from ``ProfileResultBuilder.build()``:
``execution_summary`` and ``execution_detail`` keep the cloud service's keys and
units (microseconds, bytes) so existing analysis scripts work unchanged; what
devicelab adds lives in its own top-level keys (``devicelab``), never inside
those two.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.serde import STAGES
from protos import agent_pb2 as pb

_STAGE_NAMES = {number: name for name, number in STAGES.items()}

# Per-layer summary statistic across profiled iterations: the median resists the
# odd preempted iteration better than the mean, and matches the loop's summary.
LAYER_AGGREGATE = "median"
# The agent's own CPU during the timed loop above this share of the loop's wall time
# is shown with the result: an idle agent beside a loop costs ~0 (README, "The agent's
# footprint"), so 1 % means something else ran in it (a noisy neighbour).
AGENT_CPU_NOTABLE_SHARE = 0.01


@dataclass
class _Load:
    time_us: int
    peak_bytes: int
    increase_bytes: int


@dataclass
class ProfileResultBuilder:
    """Accumulates ``ProfileEvent`` messages; ``build()`` gives the result dict."""

    latencies_us: list[int] = field(default_factory=list)
    loads: dict[str, _Load] = field(default_factory=dict)
    layer_iterations: list[list[pb.Layer]] = field(default_factory=list)
    layer_wall_times_us: list[int] = field(default_factory=list)
    applied: pb.Applied | None = None
    summary: pb.Summary | None = None
    error: pb.ErrorInfo | None = None

    def add(self, event: pb.ProfileEvent) -> None:
        kind = event.WhichOneof("event")
        if kind == "load_done":
            load = event.load_done
            self.loads[_STAGE_NAMES[load.stage]] = _Load(
                load.time_us, load.peak_memory_bytes, load.memory_increase_bytes
            )
        elif kind == "iterations":
            if event.iterations.first_index != len(self.latencies_us):
                raise ValueError(
                    f"iteration batch starts at {event.iterations.first_index}, "
                    f"expected {len(self.latencies_us)}"
                )
            self.latencies_us.extend(event.iterations.latencies_us)
        elif kind == "layer_iteration":
            self.layer_iterations.append(list(event.layer_iteration.layers))
            self.layer_wall_times_us.append(event.layer_iteration.wall_time_us)
        elif kind == "applied":
            self.applied = event.applied
        elif kind == "done":  # the run's Summary (the proto's oneof field is named done)
            self.summary = event.done
        elif kind == "error":
            self.error = event.error

    def build(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The result dict; ``extra`` is merged into the ``devicelab`` key."""
        extras = self._devicelab_extras()
        extras.update(extra or {})
        return {
            "execution_summary": self._execution_summary(),
            "execution_detail": aggregate_layers(self.layer_iterations),
            "devicelab": extras,
        }

    def _execution_summary(self) -> dict[str, Any]:
        first = self.loads.get("first_load")
        warm = self.loads.get("warm_load")
        loop_peak = self.summary.peak_memory_bytes if self.summary else 0
        loop_increase = self.summary.memory_increase_bytes if self.summary else 0
        median = int(statistics.median(self.latencies_us)) if self.latencies_us else 0
        return {
            "estimated_inference_time": median,
            "estimated_inference_peak_memory": loop_peak,
            "first_load_time": first.time_us if first else 0,
            "first_load_peak_memory": first.peak_bytes if first else 0,
            "warm_load_time": warm.time_us if warm else 0,
            "warm_load_peak_memory": warm.peak_bytes if warm else 0,
            # Nothing is compiled on the device here: the runtimes prepare during load.
            "compile_time": 0,
            "compile_peak_memory": 0,
            "inference_memory_increase_range": [loop_increase, loop_increase],
            "inference_memory_peak_range": [loop_peak, loop_peak],
            "first_load_memory_increase_range": _range(first, "increase_bytes"),
            "first_load_memory_peak_range": _range(first, "peak_bytes"),
            "warm_load_memory_increase_range": _range(warm, "increase_bytes"),
            "warm_load_memory_peak_range": _range(warm, "peak_bytes"),
            "compile_memory_increase_range": [0, 0],
            "compile_memory_peak_range": [0, 0],
            "all_inference_times": list(self.latencies_us),
            "all_first_load_times": [first.time_us] if first else [],
            "all_warm_load_times": [warm.time_us] if warm else [],
            "all_compile_times": [],
        }

    def _devicelab_extras(self) -> dict[str, Any]:
        latencies = self.latencies_us
        extras: dict[str, Any] = {
            "iterations": len(latencies),
            "stop_reason": self.summary.stop_reason if self.summary else "",
            "loop_time_s": self.summary.loop_time_s if self.summary else 0.0,
            "inference_time_stats_us": latency_stats(latencies),
            # Latency comes from unprofiled iterations; per-layer times from these.
            "layer_profile_iterations": len(self.layer_iterations),
            "layer_aggregate": LAYER_AGGREGATE,
            "layers_per_compute_unit": layers_per_compute_unit(self.layer_iterations),
            "layer_profile_wall_times_us": list(self.layer_wall_times_us),
            "layer_coverage": layer_coverage(self.layer_iterations, self.layer_wall_times_us),
        }
        if self.applied is not None:
            extras["applied"] = applied_to_dict(self.applied)
        if self.summary is not None and self.summary.HasField("loop_cpu"):
            extras["loop_cpu"] = loop_cpu_to_dict(self.summary.loop_cpu, self.summary.loop_time_s)
        return extras


_AGENT_EVENT_KINDS = frozenset(
    field.name for field in pb.ProfileEvent.DESCRIPTOR.oneofs_by_name["event"].fields
)


def result_from_events(events: Iterable[tuple[str, bytes]]) -> dict[str, Any]:
    """The result a job's stored ``(kind, payload)`` events make, as far as they go.

    A job that ended early (agent killed, worker crashed, cancelled while its CLI
    exited) has no stored result, but every event it streamed was stored as it
    arrived: replaying them gives what it measured. The controller's own events
    (push progress) are not the agent's and are skipped.

    Example:
        result_from_events((e.kind, e.payload) for e in store.events(job_id))
    """
    builder = ProfileResultBuilder()
    for kind, payload in events:
        if kind not in _AGENT_EVENT_KINDS:
            continue
        try:
            builder.add(pb.ProfileEvent.FromString(payload))
        except ValueError:  # a gap in the iteration batches: keep what is contiguous
            break
    return builder.build()


def loop_cpu_to_dict(cpu: pb.LoopCpu, loop_time_s: float) -> dict[str, Any]:
    """CPU seconds spent during the timed loop: by the job's process, and by the agent.

    Example: a 10 s loop on one thread gives ``job_cpu_s`` ~10 and, from a quiet
    agent, ``agent_cpu_s`` ~0.001 and ``agent_share_of_loop`` ~0.0001.
    """
    agent_s = cpu.agent_user_s + cpu.agent_system_s
    return {
        "job_cpu_s": round(cpu.job_user_s + cpu.job_system_s, 6),
        "job_user_s": round(cpu.job_user_s, 6),
        "job_system_s": round(cpu.job_system_s, 6),
        "agent_cpu_s": round(agent_s, 6),
        "agent_user_s": round(cpu.agent_user_s, 6),
        "agent_system_s": round(cpu.agent_system_s, 6),
        "agent_context_switches": cpu.agent_context_switches,
        "agent_share_of_loop": round(agent_s / loop_time_s, 6) if loop_time_s > 0 else 0.0,
    }


def _range(load: _Load | None, attr: str) -> list[int]:
    value = getattr(load, attr) if load else 0
    return [value, value]


def latency_stats(latencies_us: list[int]) -> dict[str, float]:
    """Median, p90, min, max, mean of a latency list (empty -> {})."""
    if not latencies_us:
        return {}
    ordered = sorted(latencies_us)
    p90_index = min(len(ordered) - 1, max(0, int(round(0.9 * len(ordered))) - 1))
    return {
        "median": float(statistics.median(ordered)),
        "p90": float(ordered[p90_index]),
        "min": float(ordered[0]),
        "max": float(ordered[-1]),
        "mean": float(statistics.fmean(ordered)),
    }


def aggregate_layers(iterations: list[list[pb.Layer]]) -> list[dict[str, Any]]:
    """One entry per layer (in execution order), the median over profiled iterations."""
    times: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    cycles: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for layers in iterations:
        for layer in layers:
            key = (layer.name, layer.type, layer.compute_unit)
            times[key].append(layer.execution_time_us)
            if layer.has_cycles:
                cycles[key].append(layer.execution_cycles)
    detail = []
    for key, values in times.items():  # dicts keep first-seen order = execution order
        name, op_type, unit = key
        entry: dict[str, Any] = {
            "name": name,
            "type": op_type,
            "compute_unit": unit,
            "execution_time": float(statistics.median(values)),
        }
        if cycles.get(key):
            entry["execution_cycles"] = int(statistics.median(cycles[key]))
        detail.append(entry)
    return detail


def layer_coverage(iterations: list[list[pb.Layer]], wall_times_us: list[int]) -> dict[str, float]:
    """Share of each profiled run's wall time that its layers account for.

    Layers run inside the run, so a share above 1 (beyond clock granularity)
    means the per-layer source double counts; a low share means the runtime
    spends much of a run outside its ops (typical of tiny models).
    """
    shares = [
        sum(layer.execution_time_us for layer in layers) / wall
        for layers, wall in zip(iterations, wall_times_us, strict=True)
        if wall > 0
    ]
    if not shares:
        return {}
    return {"median": statistics.median(shares), "min": min(shares), "max": max(shares)}


def layers_per_compute_unit(iterations: list[list[pb.Layer]]) -> dict[str, int]:
    if not iterations:
        return {}
    counts: dict[str, int] = defaultdict(int)
    for layer in iterations[0]:
        counts[layer.compute_unit] += 1
    return dict(counts)


def applied_to_dict(applied: pb.Applied) -> dict[str, Any]:
    return {
        "runtime": applied.runtime,
        "runtime_version": applied.runtime_version,
        "accelerators": list(applied.accelerators),
        "fallbacks": list(applied.fallbacks),
        "warnings": list(applied.warnings),
        "settings": dict(applied.settings),
        "inputs": [_spec(s) for s in applied.inputs],
        "outputs": [_spec(s) for s in applied.outputs],
    }


def _spec(spec: pb.InputSpec) -> dict[str, Any]:
    return {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype}


def npu_unused_warning(result: dict[str, Any], asked_units: Sequence[str]) -> str | None:
    """A loud line when ``--compute_unit npu`` was asked and the NPU ran nothing.

    Per-layer units decide when layers were profiled; otherwise the accelerators in
    use (the QNN EP is listed only when it took nodes, a delegate only when applied).
    """
    if "npu" not in asked_units:
        return None
    extras = result.get("devicelab", {})
    per_unit: dict[str, int] = extras.get("layers_per_compute_unit") or {}
    applied = extras.get("applied") or {}
    if per_unit:
        if per_unit.get("NPU"):
            return None
    elif any(a.lower().startswith(("qnn", "htp")) for a in applied.get("accelerators", [])):
        return None
    layers = sum(per_unit.values()) or len(result.get("execution_detail", []))
    units = ", ".join(sorted(per_unit)) or "CPU"
    why = "; ".join(applied.get("fallbacks", [])) or "no fallback was recorded"
    count = f"{layers} " if layers else ""
    return (
        f"NPU NOT USED: --compute_unit npu was asked, but the NPU ran none of the model's "
        f"{count}layers: all ran on {units}. Why: {why}"
    )
