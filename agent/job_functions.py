"""What a job's child process runs (see ``agent/isolation.py``).

Module-level generator functions with picklable arguments: the child imports
this module, finds the runtime for the model's type (``RunConfig.model_type``), and
yields domain objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent import events
from agent.runtimes import runtime_for
from agent.runtimes.base import AppliedConfig, RunConfig
from agent.runtimes.vendor import vendor_profile_job, vendor_tool_for
from agent.session import ProfilePlan, ProfileSession
from contract.tensors import TensorInfo


@dataclass(frozen=True)
class InferResult:
    samples: list[dict[str, np.ndarray]]
    applied: AppliedConfig
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]


def profile_job(
    model_path: Path, config: RunConfig, plan: ProfilePlan
) -> Iterator[events.ProfileEvent]:
    """The in-process runtime's session, or the vendor's tool where only it reaches the
    accelerator (a phone's NPU/GPU from a glibc agent: ``agent/runtimes/vendor``)."""
    tool = vendor_tool_for(model_path, config)
    if tool is not None:
        yield from vendor_profile_job(model_path, config, plan, tool)
        return
    runtime = runtime_for(model_path, config.model_type)
    # Before the first load, as in a process started ahead (agent/standby.py): the
    # first load times the model's load, never the runtime's import.
    runtime.prepare()
    yield from ProfileSession(runtime, model_path, config, plan).run()


def infer_job(
    model_path: Path, config: RunConfig, samples: list[dict[str, np.ndarray]]
) -> Iterator[InferResult]:
    """Load once, run every sample, yield one result with all outputs."""
    model = runtime_for(model_path, config.model_type).load(model_path, config)
    try:
        # The runtime's own parameters win over what the host read from the file.
        quantization = (
            {**config.output_quantization, **model.output_quantization()}
            if config.dequantize_outputs
            else {}
        )
        if config.dequantize_outputs:
            model.applied.warnings.extend(_undequantizable(model.outputs, quantization))
        outputs = []
        for feeds in samples:
            model.set_inputs(feeds)
            model.run()
            values = model.get_outputs()
            outputs.append({n: _dequantize(v, quantization.get(n)) for n, v in values.items()})
        yield InferResult(outputs, model.applied, model.inputs, model.outputs)
    finally:
        model.close()


def _dequantize(value: np.ndarray, params: tuple[float, int] | None) -> np.ndarray:
    if params is None or value.dtype.kind not in "iu":
        return value.copy()
    scale, zero_point = params
    return ((value.astype(np.float32) - zero_point) * scale).astype(np.float32)


def _undequantizable(
    outputs: list[TensorInfo], quantization: dict[str, tuple[float, int]]
) -> list[str]:
    """Warnings for 8/16-bit integer outputs (the quantized kinds) we cannot dequantize."""
    return [
        f"dequantize_outputs: output '{spec.name}' ({spec.dtype}) has no known quantization "
        "parameters; returned as is"
        for spec in outputs
        if np.dtype(spec.dtype).kind in "iu"
        and np.dtype(spec.dtype).itemsize <= 2
        and spec.name not in quantization
    ]
