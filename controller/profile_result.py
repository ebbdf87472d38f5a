"""The profile result as a typed object, and its cloud-shaped dict: the one place of its keys.

``ProfileResultBuilder`` (``controller/results.py``) builds a ``ProfileResult`` from
the agent's events; the store keeps ``to_stored()`` (JSON); ``download_profile()``
hands out ``to_dict()``: ``execution_summary`` and ``execution_detail`` with the
cloud service's keys, units (microseconds, bytes) and Python types, so scripts
written for the cloud work unchanged; what devicelab adds lives under ``devicelab``.
Reports, regressions, the web page and the CLI read the attributes, never the keys.

    profile = ProfileResult.from_dict(job.download_profile())
    profile.median_us, profile.layers[0].compute_unit, profile.applied.accelerators

``from_dict`` reads any stored result (results in stores are dicts) and a cloud
service's result (which has no ``devicelab`` part); a result the builder made comes
back equal: ``ProfileResult.from_dict(r.to_stored()) == r``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from contract.layers import LayerTiming
from contract.tensors import TensorInfo
from controller.events import AppliedSettings
from controller.profile_shapes import client_profile

__all__ = [
    "LatencyStats",
    "Load",
    "Partial",
    "ProfileResult",
    "is_profile_dict",
    "latency_stats",
]

# The devicelab keys this module reads into attributes; any other key under
# ``devicelab`` (the job's context: device, model, options, health, environment,
# retries, simulation, stalls, ...) is kept as it is in ``ProfileResult.context``.
_MEASURED_KEYS = frozenset(
    {
        "iterations",
        "stop_reason",
        "loop_time_s",
        "inference_time_stats_us",
        "layer_profile_iterations",
        "layer_aggregate",
        "layers_per_compute_unit",
        "layer_profile_wall_times_us",
        "layer_coverage",
        "applied",
        "loop_cpu",
        "warnings",
        "partial",
    }
)


@dataclass(frozen=True)
class Load:
    """One load stage (first or warm): its time, peak memory and memory increase."""

    time_us: int
    peak_memory_bytes: int
    memory_increase_bytes: int


@dataclass(frozen=True)
class LatencyStats:
    """Statistics of the timed iterations' latencies, in microseconds."""

    median: float
    p90: float
    min: float
    max: float
    mean: float


@dataclass(frozen=True)
class Partial:
    """Why a result is partial: the job's state (``FAILED``, ``RUNNING``...) and reason."""

    state: str
    reason: str


@dataclass
class ProfileResult:
    """What a profile job measured (devicelab's measurements and the job's context)."""

    inference_times_us: list[int] = field(default_factory=list)
    estimated_inference_time_us: int = 0
    inference_peak_memory_bytes: int = 0
    inference_memory_increase_bytes: int = 0
    first_load: Load | None = None
    warm_load: Load | None = None
    layers: list[LayerTiming] = field(default_factory=list)
    iterations: int = 0
    stop_reason: str = ""
    loop_time_s: float = 0.0
    stats: LatencyStats | None = None
    layer_profile_iterations: int = 0
    layer_aggregate: str = "median"
    layers_per_compute_unit: dict[str, int] = field(default_factory=dict)
    layer_profile_wall_times_us: list[int] = field(default_factory=list)
    layer_coverage: dict[str, float] = field(default_factory=dict)
    applied: AppliedSettings | None = None
    loop_cpu: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    partial: Partial | None = None
    context: dict[str, Any] = field(default_factory=dict)

    # --- reading -----------------------------------------------------------------------

    @property
    def latency_stats(self) -> LatencyStats | None:
        """The stored statistics, else those of ``inference_times_us`` (a cloud result)."""
        return self.stats or latency_stats(self.inference_times_us)

    @property
    def median_us(self) -> float:
        """The median latency (the cloud's ``estimated_inference_time`` when no times)."""
        stats = self.latency_stats
        return stats.median if stats else float(self.estimated_inference_time_us)

    @property
    def device(self) -> str | None:
        """The device's serial (``Device.name`` is in ``context["device_name"]``)."""
        value = self.context.get("device")
        return None if value is None else str(value)

    @property
    def job_id(self) -> str | None:
        value = self.context.get("job_id")
        return None if value is None else str(value)

    # --- the dict forms ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The cloud client's shape and types: ints, ``(lower, upper)`` tuples."""
        return client_profile(self.to_stored())

    def to_stored(self) -> dict[str, Any]:
        """The JSON form the store keeps (lists for ranges, per-layer times as floats)."""
        return {
            "execution_summary": self._summary_dict(),
            "execution_detail": [_layer_dict(layer) for layer in self.layers],
            "devicelab": self._devicelab_dict(),
        }

    @classmethod
    def of(cls, result: ProfileResult | dict[str, Any]) -> ProfileResult:
        """``result`` itself, or read from its dict (for functions that take either)."""
        return result if isinstance(result, ProfileResult) else cls.from_dict(result)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProfileResult:
        """Read a stored (or downloaded, or cloud service) profile dict."""
        summary = data.get("execution_summary") or {}
        extra = data.get("devicelab") or {}
        times = [int(v) for v in summary.get("all_inference_times") or []]
        return cls(
            inference_times_us=times,
            estimated_inference_time_us=int(summary.get("estimated_inference_time") or 0),
            inference_peak_memory_bytes=int(summary.get("estimated_inference_peak_memory") or 0),
            inference_memory_increase_bytes=int(
                (summary.get("inference_memory_increase_range") or [0])[-1]
            ),
            first_load=_load_from(summary, "first_load"),
            warm_load=_load_from(summary, "warm_load"),
            layers=[_layer_from(e) for e in data.get("execution_detail") or []],
            iterations=int(extra.get("iterations", len(times))),
            stop_reason=str(extra.get("stop_reason", "")),
            loop_time_s=float(extra.get("loop_time_s", 0.0)),
            stats=_stats_from(extra.get("inference_time_stats_us")),
            layer_profile_iterations=int(extra.get("layer_profile_iterations", 0)),
            layer_aggregate=str(extra.get("layer_aggregate", "median")),
            layers_per_compute_unit=dict(extra.get("layers_per_compute_unit") or {}),
            layer_profile_wall_times_us=list(extra.get("layer_profile_wall_times_us") or []),
            layer_coverage=dict(extra.get("layer_coverage") or {}),
            applied=applied_from_dict(extra["applied"]) if extra.get("applied") else None,
            loop_cpu=dict(extra["loop_cpu"]) if extra.get("loop_cpu") else None,
            warnings=list(extra.get("warnings") or []),
            partial=Partial(**extra["partial"]) if extra.get("partial") else None,
            context={k: v for k, v in extra.items() if k not in _MEASURED_KEYS},
        )

    def _summary_dict(self) -> dict[str, Any]:
        first, warm = self.first_load, self.warm_load
        peak, increase = self.inference_peak_memory_bytes, self.inference_memory_increase_bytes
        return {
            "estimated_inference_time": self.estimated_inference_time_us,
            "estimated_inference_peak_memory": peak,
            "first_load_time": first.time_us if first else 0,
            "first_load_peak_memory": first.peak_memory_bytes if first else 0,
            "warm_load_time": warm.time_us if warm else 0,
            "warm_load_peak_memory": warm.peak_memory_bytes if warm else 0,
            # Nothing is compiled on the device here: the runtimes prepare during load.
            "compile_time": 0,
            "compile_peak_memory": 0,
            "inference_memory_increase_range": [increase, increase],
            "inference_memory_peak_range": [peak, peak],
            "first_load_memory_increase_range": _range(first, "memory_increase_bytes"),
            "first_load_memory_peak_range": _range(first, "peak_memory_bytes"),
            "warm_load_memory_increase_range": _range(warm, "memory_increase_bytes"),
            "warm_load_memory_peak_range": _range(warm, "peak_memory_bytes"),
            "compile_memory_increase_range": [0, 0],
            "compile_memory_peak_range": [0, 0],
            "all_inference_times": list(self.inference_times_us),
            "all_first_load_times": [first.time_us] if first else [],
            "all_warm_load_times": [warm.time_us] if warm else [],
            "all_compile_times": [],
        }

    def _devicelab_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "iterations": self.iterations,
            "stop_reason": self.stop_reason,
            "loop_time_s": self.loop_time_s,
            "inference_time_stats_us": vars(self.stats).copy() if self.stats else {},
            # Latency comes from unprofiled iterations; per-layer times from these.
            "layer_profile_iterations": self.layer_profile_iterations,
            "layer_aggregate": self.layer_aggregate,
            "layers_per_compute_unit": dict(self.layers_per_compute_unit),
            "layer_profile_wall_times_us": list(self.layer_profile_wall_times_us),
            "layer_coverage": dict(self.layer_coverage),
        }
        if self.applied is not None:
            out["applied"] = applied_to_dict(self.applied)
        if self.loop_cpu is not None:
            out["loop_cpu"] = dict(self.loop_cpu)
        out.update(self.context)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.partial is not None:
            out["partial"] = vars(self.partial).copy()
        return out


def is_profile_dict(result: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """Whether a stored job result is a profile's (a compile or inference job's is not)."""
    return result is not None and "execution_summary" in result


def latency_stats(latencies_us: list[int]) -> LatencyStats | None:
    """Median, p90, min, max, mean of a latency list (None when empty)."""
    if not latencies_us:
        return None
    ordered = sorted(latencies_us)
    p90_index = min(len(ordered) - 1, max(0, int(round(0.9 * len(ordered))) - 1))
    return LatencyStats(
        median=float(statistics.median(ordered)),
        p90=float(ordered[p90_index]),
        min=float(ordered[0]),
        max=float(ordered[-1]),
        mean=float(statistics.fmean(ordered)),
    )


def applied_to_dict(applied: AppliedSettings) -> dict[str, Any]:
    """The ``devicelab.applied`` dict (inference results store it too)."""
    return {
        "runtime": applied.runtime,
        "runtime_version": applied.runtime_version,
        "accelerators": list(applied.accelerators),
        "fallbacks": list(applied.fallbacks),
        "warnings": list(applied.warnings),
        "settings": dict(applied.settings),
        "inputs": [_spec_dict(s) for s in applied.inputs],
        "outputs": [_spec_dict(s) for s in applied.outputs],
    }


def applied_from_dict(data: dict[str, Any]) -> AppliedSettings:
    """Read a stored ``devicelab.applied`` dict."""
    return AppliedSettings(
        runtime=str(data.get("runtime", "")),
        runtime_version=str(data.get("runtime_version", "")),
        accelerators=tuple(data.get("accelerators") or ()),
        fallbacks=tuple(data.get("fallbacks") or ()),
        warnings=tuple(data.get("warnings") or ()),
        settings=dict(data.get("settings") or {}),
        inputs=tuple(_spec_from(s) for s in data.get("inputs") or ()),
        outputs=tuple(_spec_from(s) for s in data.get("outputs") or ()),
    )


def _spec_dict(spec: TensorInfo) -> dict[str, Any]:
    return {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype}


def _spec_from(data: dict[str, Any]) -> TensorInfo:
    return TensorInfo(
        str(data.get("name", "")), tuple(data.get("shape") or ()), str(data.get("dtype", ""))
    )


def _range(load: Load | None, attr: str) -> list[int]:
    value = getattr(load, attr) if load else 0
    return [value, value]


def _load_from(summary: dict[str, Any], stage: str) -> Load | None:
    times_key = f"all_{stage}_times"  # a stored result lists the load it measured, or none
    measured = summary[times_key] if times_key in summary else summary.get(f"{stage}_time")
    if not measured:
        return None
    # A cloud result's ranges are (lower, upper): the upper one, as its own pages show.
    increase = summary.get(f"{stage}_memory_increase_range") or [0]
    return Load(
        int(summary.get(f"{stage}_time") or 0),
        int(summary.get(f"{stage}_peak_memory") or 0),
        int(increase[-1]),
    )


def _layer_dict(layer: LayerTiming) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": layer.name,
        "type": layer.type,
        "compute_unit": layer.compute_unit,
        "execution_time": layer.execution_time_us,
    }
    if layer.execution_cycles is not None:
        entry["execution_cycles"] = layer.execution_cycles
    return entry


def _layer_from(entry: dict[str, Any]) -> LayerTiming:
    cycles = entry.get("execution_cycles")
    return LayerTiming(
        str(entry.get("name", "")),
        str(entry.get("type", "")),
        str(entry.get("compute_unit", "?")),
        float(entry.get("execution_time", 0.0)),
        None if cycles is None else int(cycles),
    )


def _stats_from(data: dict[str, Any] | None) -> LatencyStats | None:
    if not data:
        return None
    return LatencyStats(**{k: float(data[k]) for k in ("median", "p90", "min", "max", "mean")})
