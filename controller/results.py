"""Building the profile result from the agent's events (``controller/profile_result.py``
is its type and its cloud-shaped dict).

``download_profile()`` returns the stored ``ProfileResultBuilder.result()``'s ``to_dict()``:
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

from controller import events as ev
from controller.profile_result import Load, ProfileResult, latency_stats
from controller.profile_result import applied_to_dict as _applied_dict
from protos import agent_pb2 as pb

# Per-layer summary statistic across profiled iterations: the median resists the
# odd preempted iteration better than the mean, and matches the loop's summary.
LAYER_AGGREGATE = "median"
# The agent's own CPU during the timed loop above this share of the loop's wall time
# is shown with the result: an idle agent beside a loop costs ~0 (README, "The agent's
# footprint"), so 1 % means something else ran in it (a noisy neighbour).
AGENT_CPU_NOTABLE_SHARE = 0.01


@dataclass
class ProfileResultBuilder:
    """Accumulates a job's events (``controller.events``); ``result()`` gives what they make."""

    latencies_us: list[int] = field(default_factory=list)
    loads: dict[str, Load] = field(default_factory=dict)
    layer_iterations: list[tuple[ev.LayerTiming, ...]] = field(default_factory=list)
    layer_wall_times_us: list[int] = field(default_factory=list)
    applied: ev.AppliedSettings | None = None
    summary: ev.Finished | None = None
    error: ev.ErrorReported | None = None

    def add(self, event: ev.ProfileEvent) -> None:
        """Take one event.

        Raises:
            ValueError: an iteration batch does not continue the ones before it.
        """
        if isinstance(event, ev.LoadDone):
            self.loads[event.stage] = Load(
                event.time_us, event.peak_memory_bytes, event.memory_increase_bytes
            )
        elif isinstance(event, ev.IterationTimes):
            if event.first_index != len(self.latencies_us):
                raise ValueError(
                    f"iteration batch starts at {event.first_index}, "
                    f"expected {len(self.latencies_us)}"
                )
            self.latencies_us.extend(event.latencies_us)
        elif isinstance(event, ev.LayerIteration):
            self.layer_iterations.append(event.layers)
            self.layer_wall_times_us.append(event.wall_time_us)
        elif isinstance(event, ev.AppliedSettings):
            self.applied = event
        elif isinstance(event, ev.Finished):
            self.summary = event
        elif isinstance(event, ev.ErrorReported):
            self.error = event

    def result(self, context: dict[str, Any] | None = None) -> ProfileResult:
        """The result so far; ``context`` (the job's device, options, ...) goes with it."""
        summary = self.summary
        latencies = self.latencies_us
        return ProfileResult(
            inference_times_us=list(latencies),
            estimated_inference_time_us=int(statistics.median(latencies)) if latencies else 0,
            inference_peak_memory_bytes=summary.peak_memory_bytes if summary else 0,
            inference_memory_increase_bytes=summary.memory_increase_bytes if summary else 0,
            first_load=self.loads.get("first_load"),
            warm_load=self.loads.get("warm_load"),
            layers=aggregate_layers(self.layer_iterations),
            iterations=len(latencies),
            stop_reason=summary.stop_reason if summary else "",
            loop_time_s=summary.loop_time_s if summary else 0.0,
            stats=latency_stats(latencies),
            layer_profile_iterations=len(self.layer_iterations),
            layer_aggregate=LAYER_AGGREGATE,
            layers_per_compute_unit=layers_per_compute_unit(self.layer_iterations),
            layer_profile_wall_times_us=list(self.layer_wall_times_us),
            layer_coverage=layer_coverage(self.layer_iterations, self.layer_wall_times_us),
            applied=self.applied,
            loop_cpu=loop_cpu_to_dict(summary.loop_cpu, summary.loop_time_s)
            if summary is not None and summary.loop_cpu is not None
            else None,
            context=dict(context or {}),
        )


def result_from_events(events: Iterable[ev.ProfileEvent]) -> ProfileResult:
    """The result a job's events make, as far as they go.

    A job that ended early (agent killed, connection lost, worker crashed,
    cancelled while its CLI exited) has no stored result, but every event it
    streamed was stored as it arrived: replaying them gives what it measured.

    Example:
        result_from_events(events_from_stored((e.kind, e.payload) for e in store.events(job_id)))
    """
    builder = ProfileResultBuilder()
    for event in events:
        try:
            builder.add(event)
        except ValueError:  # a gap in the iteration batches: keep what is contiguous
            break
    return builder.result()


def loop_cpu_to_dict(cpu: ev.LoopCpu, loop_time_s: float) -> dict[str, Any]:
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


Iterations = Sequence[Sequence[ev.LayerTiming]]


def aggregate_layers(iterations: Iterations) -> list[ev.LayerTiming]:
    """One entry per layer (in execution order), the median over profiled iterations."""
    times: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    cycles: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for layers in iterations:
        for layer in layers:
            key = (layer.name, layer.type, layer.compute_unit)
            times[key].append(layer.execution_time_us)
            if layer.execution_cycles is not None:
                cycles[key].append(layer.execution_cycles)
    return [  # dicts keep first-seen order = execution order
        ev.LayerTiming(
            *key,
            float(statistics.median(values)),
            int(statistics.median(cycles[key])) if cycles.get(key) else None,
        )
        for key, values in times.items()
    ]


def layer_coverage(iterations: Iterations, wall_times_us: list[int]) -> dict[str, float]:
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


def layers_per_compute_unit(iterations: Iterations) -> dict[str, int]:
    if not iterations:
        return {}
    counts: dict[str, int] = defaultdict(int)
    for layer in iterations[0]:
        counts[layer.compute_unit] += 1
    return dict(counts)


def applied_to_dict(applied: pb.Applied) -> dict[str, Any]:
    """An inference reply's ``Applied`` as the result's ``devicelab.applied`` dict."""
    return _applied_dict(ev.applied_from_proto(applied))


def npu_unused_warning(profile: ProfileResult, asked_units: Sequence[str]) -> str | None:
    """A loud line when ``--compute_unit npu`` was asked and the NPU ran nothing.

    Per-layer units decide when layers were profiled; otherwise the accelerators in
    use (the QNN EP is listed only when it took nodes, a delegate only when applied).
    """
    if "npu" not in asked_units:
        return None
    per_unit = profile.layers_per_compute_unit
    accelerators = profile.applied.accelerators if profile.applied else ()
    if per_unit:
        if per_unit.get("NPU"):
            return None
    elif any(a.lower().startswith(("qnn", "htp")) for a in accelerators):
        return None
    layers = sum(per_unit.values()) or len(profile.layers)
    units = ", ".join(sorted(per_unit)) or "CPU"
    fallbacks = profile.applied.fallbacks if profile.applied else ()
    why = "; ".join(fallbacks) or "no fallback was recorded"
    count = f"{layers} " if layers else ""
    return (
        f"NPU NOT USED: --compute_unit npu was asked, but the NPU ran none of the model's "
        f"{count}layers: all ran on {units}. Why: {why}"
    )
