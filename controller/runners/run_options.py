"""A job's options as the runner reads them, and the typed ``RunOptions`` the agent gets.

The options were parsed and validated once, at submit, and stored in their canonical
typed form (``Options.to_spec()`` under the job spec's ``OPTIONS_SPEC_KEY``); the
runner rebuilds them from that form and never parses the text again. Only a job an
older version stored (its spec has no such key) falls back to parsing its text.
"""

from __future__ import annotations

from typing import Any

from controller.errors import InternalError
from controller.options import OPTIONS_SPEC_KEY, Options, parse_options
from controller.store import JobRecord, Store
from protos import agent_pb2 as pb


def job_options(store: Store, job: JobRecord, model_id: str | None = None) -> Options:
    """The job's options: as stored at submit, or (an older job) its text parsed.

    Args:
        model_id: the model the job runs, when not its own (a profile job after a
            compile job runs the compiled model): only the fallback reads it.

    Raises:
        InternalError: the stored options belong to another kind of job.
    """
    stored = job.spec.get(OPTIONS_SPEC_KEY)
    if stored is not None:
        options = Options.from_spec(stored)
        if options.job != job.kind:
            raise InternalError(f"job {job.id} ({job.kind}) stored {options.job} options")
        return options
    model = store.get_model(model_id or job.model_id)
    target = job.spec.get("target_runtime") or model.model_type
    return parse_options(job.options, job=job.kind, target_runtime=target)


def run_options_proto(options: Options, job: JobRecord, facts: dict[str, Any]) -> pb.RunOptions:
    """The agent's view of validated options, plus device facts from the profile."""
    specs = [
        pb.InputSpec(name=name, shape=list(shape), dtype=dtype)
        for name, (shape, dtype) in (job.spec.get("input_specs") or {}).items()
    ]
    return pb.RunOptions(
        compute_units=list(options.compute_unit),
        tflite_delegates=list(options.tflite_delegates),
        tflite_options=options.tflite_options_wire(),
        qnn_options=options.qnn_options_wire(),
        onnx_execution_providers=list(options.onnx_execution_providers),
        input_specs=specs,
        soc_model=str(facts.get("soc_model", "")),
        htp_arch=str(facts.get("htp_arch", "")),
        htp_fp16=str(facts.get("htp_fp16", "")),
        vtcm_mb=str(facts.get("vtcm_mb", "")),
        library_dirs=list(facts.get("library_dirs", [])),
        dequantize_outputs=options.dequantize_outputs,
    )
