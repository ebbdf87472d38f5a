"""One layer's time in one profiled iteration, as both sides describe it: the agent's
runtimes measure it, the controller's results, reports and regression runs read it."""

from __future__ import annotations

from dataclasses import dataclass

#: What a layer's ``compute_unit`` may be.
LAYER_COMPUTE_UNITS = ("NPU", "GPU", "CPU")


@dataclass(frozen=True)
class LayerTiming:
    """One layer (op / node) in one profiled iteration; ``execution_cycles`` is None
    where the runtime does not report cycles."""

    name: str
    type: str
    compute_unit: str  # one of LAYER_COMPUTE_UNITS
    execution_time_us: float
    execution_cycles: int | None = None
