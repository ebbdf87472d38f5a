"""Protobuf <-> agent domain objects, in one place (the servicer stays thin)."""

from __future__ import annotations

from pathlib import Path

from agent import events
from agent.errors import AgentError, JobCancelledError
from agent.isolation import Liveness
from agent.runtimes.base import AppliedConfig, RunConfig
from contract.layers import LayerTiming
from contract.stages import STAGES
from contract.tensors import TensorInfo
from protos import agent_pb2 as pb


def run_config_from_proto(options: pb.RunOptions, workdir: Path, model_type: str = "") -> RunConfig:
    """The job's ``RunConfig``: its sub-options are checked and typed here, once.

    Raises:
        InvalidOptionError: a sub-option or value the shared tables do not accept.
    """
    return RunConfig(
        workdir=workdir,
        model_type=model_type,
        compute_units=tuple(options.compute_units) or ("all",),
        tflite_delegates=tuple(options.tflite_delegates),
        tflite_options=dict(options.tflite_options),
        qnn_options=dict(options.qnn_options),
        onnx_execution_providers=tuple(options.onnx_execution_providers),
        input_shapes={s.name: tuple(s.shape) for s in options.input_specs if s.shape},
        soc_model=options.soc_model,
        htp_arch=options.htp_arch,
        htp_fp16=options.htp_fp16,
        vtcm_mb=options.vtcm_mb,
        library_dirs=tuple(options.library_dirs),
        dequantize_outputs=options.dequantize_outputs,
        output_quantization={
            name: (q.scale, q.zero_point) for name, q in options.output_quantization.items()
        },
    )


def tensor_specs_to_proto(specs: list[TensorInfo]) -> list[pb.InputSpec]:
    return [pb.InputSpec(name=s.name, shape=list(s.shape), dtype=s.dtype) for s in specs]


def applied_to_proto(
    config: AppliedConfig, inputs: list[TensorInfo], outputs: list[TensorInfo]
) -> pb.Applied:
    return pb.Applied(
        runtime=config.runtime,
        runtime_version=config.runtime_version,
        accelerators=config.accelerators,
        fallbacks=config.fallbacks,
        warnings=config.warnings,
        settings=config.settings,
        inputs=tensor_specs_to_proto(inputs),
        outputs=tensor_specs_to_proto(outputs),
    )


def layer_to_proto(layer: LayerTiming) -> pb.Layer:
    return pb.Layer(
        name=layer.name,
        type=layer.type,
        compute_unit=layer.compute_unit,
        execution_time_us=layer.execution_time_us,
        execution_cycles=layer.execution_cycles or 0,
        has_cycles=layer.execution_cycles is not None,
    )


def event_to_proto(event: events.ProfileEvent) -> pb.ProfileEvent:
    match event:
        case events.StageStarted(stage):
            return pb.ProfileEvent(stage_started=pb.StageStarted(stage=STAGES[stage]))
        case events.LoadDone(stage, time_us, peak, increase):
            done = pb.LoadDone(
                stage=STAGES[stage],
                time_us=time_us,
                peak_memory_bytes=peak,
                memory_increase_bytes=increase,
            )
            return pb.ProfileEvent(load_done=done)
        case events.Applied(config, inputs, outputs):
            return pb.ProfileEvent(applied=applied_to_proto(config, inputs, outputs))
        case events.IterationTimes(first_index, latencies):
            times = pb.IterationTimes(first_index=first_index, latencies_us=latencies)
            return pb.ProfileEvent(iterations=times)
        case events.LayerIteration(index, layers, wall_time_us):
            layer_iteration = pb.LayerIteration(
                index=index,
                layers=[layer_to_proto(layer) for layer in layers],
                wall_time_us=int(wall_time_us),
            )
            return pb.ProfileEvent(layer_iteration=layer_iteration)
        case events.Summary():
            summary = pb.Summary(
                iterations=event.iterations,
                stop_reason=event.stop_reason,
                loop_time_s=event.loop_time_s,
                peak_memory_bytes=event.peak_memory_bytes,
                memory_increase_bytes=event.memory_increase_bytes,
                loop_cpu=pb.LoopCpu(job_user_s=event.cpu_user_s, job_system_s=event.cpu_system_s),
            )
            return pb.ProfileEvent(done=summary)
    raise TypeError(f"unknown event {event!r}")


def heartbeat_to_proto(liveness: Liveness) -> pb.Heartbeat:
    return pb.Heartbeat(
        since_last_event_s=liveness.since_last_item_s,
        process_state=liveness.process_state,
        process_cpu_s=liveness.process_cpu_s,
    )


def error_to_proto(exc: BaseException) -> pb.ErrorInfo:
    if isinstance(exc, JobCancelledError):
        kind = pb.ErrorInfo.CANCELLED
    elif isinstance(exc, AgentError) and exc.user_caused:
        kind = pb.ErrorInfo.USER
    else:
        kind = pb.ErrorInfo.INTERNAL
    return pb.ErrorInfo(kind=kind, error_type=type(exc).__name__, message=str(exc))
