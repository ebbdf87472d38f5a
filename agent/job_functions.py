"""What a job's child process runs (see ``agent/isolation.py``).

Module-level generator functions with picklable arguments: the child imports
this module, finds the runtime for the model, and yields domain objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent import events
from agent.runtimes import runtime_for
from agent.runtimes.base import AppliedConfig, RunConfig, TensorSpec
from agent.session import ProfilePlan, ProfileSession


@dataclass(frozen=True)
class InferResult:
    samples: list[dict[str, np.ndarray]]
    applied: AppliedConfig
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


def profile_job(
    model_path: Path, config: RunConfig, plan: ProfilePlan
) -> Iterator[events.ProfileEvent]:
    runtime = runtime_for(model_path)
    yield from ProfileSession(runtime, model_path, config, plan).run()


def infer_job(
    model_path: Path, config: RunConfig, samples: list[dict[str, np.ndarray]]
) -> Iterator[InferResult]:
    """Load once, run every sample, yield one result with all outputs."""
    model = runtime_for(model_path).load(model_path, config)
    try:
        outputs = []
        for feeds in samples:
            model.set_inputs(feeds)
            model.run()
            outputs.append({name: value.copy() for name, value in model.get_outputs().items()})
        yield InferResult(outputs, model.applied, model.inputs, model.outputs)
    finally:
        model.close()
