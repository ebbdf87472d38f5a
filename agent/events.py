"""Domain events of one profile job, in the order the session emits them.

The session yields these; ``agent/serde.py`` turns them into protobuf messages.
Keeping them proto-free lets the loop be tested and reasoned about on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.runtimes.base import AppliedConfig
from contract.layers import LayerTiming
from contract.tensors import TensorInfo


@dataclass(frozen=True)
class StageStarted:
    stage: str  # "first_load", "warm_load", "warmup", "inference", "layer_profile"


@dataclass(frozen=True)
class LoadDone:
    stage: str  # "first_load" or "warm_load"
    time_us: int
    peak_memory_bytes: int
    memory_increase_bytes: int


@dataclass(frozen=True)
class Applied:
    config: AppliedConfig
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]


@dataclass(frozen=True)
class IterationTimes:
    first_index: int
    latencies_us: list[int]


@dataclass(frozen=True)
class LayerIteration:
    index: int
    layers: list[LayerTiming]
    wall_time_us: float


@dataclass(frozen=True)
class Summary:
    """The end-of-run record: how the timed loop went (the wire's ``ProfileEvent.done``,
    a ``Summary`` message; the field keeps its name for older controllers)."""

    iterations: int
    stop_reason: str  # "max_iterations" or "max_time"
    loop_time_s: float
    peak_memory_bytes: int
    memory_increase_bytes: int
    # The job process's CPU time during the loop (all its threads), from os.times().
    cpu_user_s: float = 0.0
    cpu_system_s: float = 0.0


ProfileEvent = StageStarted | LoadDone | Applied | IterationTimes | LayerIteration | Summary
