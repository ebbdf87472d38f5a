"""What a profile job streams, as public domain events: the one place protobuf becomes them.

A ``listener=`` passed to ``submit_profile_job`` is called as ``listener(job, event)``
with the public ``ProfileJob`` handle and one of the events below, in the order the
agent sent them. The result builder (``controller/results.py``), the CLI's progress
lines (``controller/cli/progress.py``) and ``partial_profile()`` read these too, so
no reader outside this module touches ``protos.agent_pb2``.

    StageStarted     a stage began: first_load, warm_load, warmup, inference, layer_profile
    LoadDone         a load ended: its time and memory
    AppliedSettings  what the runtime actually used (accelerators, fallbacks, settings)
    IterationTimes   a batch of timed iterations' latencies
    LayerIteration   one profiled iteration's per-layer times
    Finished         the timed loop's summary (iterations, why it stopped, memory, CPU)
    ErrorReported    the agent reported an error (the job fails with it)
    Heartbeat        the agent is alive while the job is quiet (never stored, so a
                     listener fed from the store does not get it)

Each event's ``kind`` is the name the agent's stream and the store use for it.

Example:
    def listener(job, event):
        if isinstance(event, IterationTimes):
            print(job.job_id, event.first_index, event.latencies_us[-1])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from contract.layers import LayerTiming
from contract.tensors import TensorInfo
from protos import agent_pb2 as pb

__all__ = [
    "AppliedSettings",
    "ErrorReported",
    "Finished",
    "Heartbeat",
    "IterationTimes",
    "LayerIteration",
    "LayerTiming",
    "LoadDone",
    "LoopCpu",
    "ProfileEvent",
    "StageStarted",
    "TensorInfo",
    "applied_from_proto",
    "event_from_proto",
    "events_from_stored",
]

# Stage names as the agent's serde names them (agent/serde.py STAGES), by wire number.
_STAGES: dict[int, str] = {
    pb.STAGE_FIRST_LOAD: "first_load",
    pb.STAGE_WARM_LOAD: "warm_load",
    pb.STAGE_WARMUP: "warmup",
    pb.STAGE_INFERENCE: "inference",
    pb.STAGE_LAYER_PROFILE: "layer_profile",
}
_ERROR_CATEGORIES: dict[int, str] = {
    pb.ErrorInfo.USER: "user",
    pb.ErrorInfo.INTERNAL: "internal",
    pb.ErrorInfo.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class StageStarted:
    """A stage began (``stage``: first_load, warm_load, warmup, inference, layer_profile)."""

    kind: ClassVar[str] = "stage_started"
    stage: str


@dataclass(frozen=True)
class LoadDone:
    """A load stage ended: its time, the process's peak RSS and its RSS increase."""

    kind: ClassVar[str] = "load_done"
    stage: str
    time_us: int
    peak_memory_bytes: int
    memory_increase_bytes: int


@dataclass(frozen=True)
class AppliedSettings:
    """What the runtime actually used, which may differ from what was asked."""

    kind: ClassVar[str] = "applied"
    runtime: str = ""
    runtime_version: str = ""
    accelerators: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()


@dataclass(frozen=True)
class IterationTimes:
    """Latencies of timed iterations ``first_index`` .. ``first_index + len - 1``."""

    kind: ClassVar[str] = "iterations"
    first_index: int
    latencies_us: tuple[int, ...]


@dataclass(frozen=True)
class LayerIteration:
    """One profiled iteration: each layer's time, and the run's wall time."""

    kind: ClassVar[str] = "layer_iteration"
    index: int
    layers: tuple[LayerTiming, ...]
    wall_time_us: int


@dataclass(frozen=True)
class LoopCpu:
    """CPU seconds during the timed loop: the job's process, and the agent beside it."""

    job_user_s: float
    job_system_s: float
    agent_user_s: float
    agent_system_s: float
    agent_context_switches: int


@dataclass(frozen=True)
class Finished:
    """The timed loop ended: how many iterations, why (max_iterations / max_time), memory."""

    kind: ClassVar[str] = "done"
    iterations: int
    stop_reason: str
    loop_time_s: float
    peak_memory_bytes: int
    memory_increase_bytes: int
    loop_cpu: LoopCpu | None = None


@dataclass(frozen=True)
class ErrorReported:
    """The agent reported an error; ``category`` is user, internal or cancelled."""

    kind: ClassVar[str] = "error"
    category: str
    error_type: str
    message: str


@dataclass(frozen=True)
class Heartbeat:
    """The agent lives while the job's process is quiet; how that process is doing."""

    kind: ClassVar[str] = "heartbeat"
    since_last_event_s: float
    process_state: str
    process_cpu_s: float


ProfileEvent = (
    StageStarted
    | LoadDone
    | AppliedSettings
    | IterationTimes
    | LayerIteration
    | Finished
    | ErrorReported
    | Heartbeat
)


def event_from_proto(message: pb.ProfileEvent) -> ProfileEvent:
    """The domain event of one agent ``ProfileEvent``.

    Raises:
        ValueError: the message carries no event (or one this controller does not know).
    """
    kind = message.WhichOneof("event")
    convert = _CONVERTERS.get(kind or "")
    if convert is None:
        raise ValueError(f"unknown profile event {kind!r}")
    return convert(getattr(message, kind or ""))


def events_from_stored(records: Iterable[tuple[str, bytes]]) -> Iterator[ProfileEvent]:
    """The agent's events among a job's stored ``(kind, payload)`` records, in order.

    The controller's own records (push progress) are skipped.

    Example:
        events_from_stored((e.kind, e.payload) for e in store.events(job_id))
    """
    for kind, payload in records:
        if kind in _CONVERTERS:
            yield event_from_proto(pb.ProfileEvent.FromString(payload))


def _stage(number: int) -> str:
    return _STAGES.get(number, "unspecified")


def _specs(specs: Iterable[pb.InputSpec]) -> tuple[TensorInfo, ...]:
    return tuple(TensorInfo(s.name, tuple(s.shape), s.dtype) for s in specs)


def applied_from_proto(m: pb.Applied) -> AppliedSettings:
    """An ``Applied`` message (a profile event, or an inference reply's) as the domain type."""
    return AppliedSettings(
        runtime=m.runtime,
        runtime_version=m.runtime_version,
        accelerators=tuple(m.accelerators),
        fallbacks=tuple(m.fallbacks),
        warnings=tuple(m.warnings),
        settings=dict(m.settings),
        inputs=_specs(m.inputs),
        outputs=_specs(m.outputs),
    )


def _layer_iteration(m: pb.LayerIteration) -> LayerIteration:
    layers = tuple(
        LayerTiming(
            layer.name,
            layer.type,
            layer.compute_unit,
            float(layer.execution_time_us),
            int(layer.execution_cycles) if layer.has_cycles else None,
        )
        for layer in m.layers
    )
    return LayerIteration(m.index, layers, m.wall_time_us)


def _finished(m: pb.Summary) -> Finished:
    cpu = m.loop_cpu
    loop_cpu = (
        LoopCpu(
            cpu.job_user_s,
            cpu.job_system_s,
            cpu.agent_user_s,
            cpu.agent_system_s,
            cpu.agent_context_switches,
        )
        if m.HasField("loop_cpu")
        else None
    )
    return Finished(
        m.iterations,
        m.stop_reason,
        m.loop_time_s,
        m.peak_memory_bytes,
        m.memory_increase_bytes,
        loop_cpu,
    )


_CONVERTERS: dict[str, Callable[[Any], ProfileEvent]] = {
    "stage_started": lambda m: StageStarted(_stage(m.stage)),
    "load_done": lambda m: LoadDone(
        _stage(m.stage), m.time_us, m.peak_memory_bytes, m.memory_increase_bytes
    ),
    "applied": applied_from_proto,
    "iterations": lambda m: IterationTimes(m.first_index, tuple(m.latencies_us)),
    "layer_iteration": _layer_iteration,
    "done": _finished,
    "error": lambda m: ErrorReported(
        _ERROR_CATEGORIES.get(m.kind, "internal"), m.error_type, m.message
    ),
    "heartbeat": lambda m: Heartbeat(m.since_last_event_s, m.process_state, m.process_cpu_s),
}
