"""An inference job on a device: push the model and the inputs, store the outputs."""

from __future__ import annotations

from typing import Any

from contract import tensors  # array <-> Tensor, shared with the agent
from contract.tensors import TensorInfo
from controller.devices import DeviceEntry
from controller.environment import job_environment
from controller.jobs import JobState
from controller.model_io import quantize_float_inputs, stored_model_io
from controller.qairt import qairt_warning
from controller.results import applied_to_dict
from controller.runners.artifacts import model_artifact
from controller.runners.context import RunContext
from controller.runners.result_parts import simulation
from controller.runners.run_options import job_options, run_options_proto
from controller.store import JobRecord
from protos import agent_pb2 as pb


def run_inference(ctx: RunContext, job: JobRecord, entry: DeviceEntry) -> None:
    """Run the job's model on every sample of its dataset on ``entry``."""
    options = job_options(ctx.store, job)
    model = ctx.store.get_model(job.model_id)
    # The model's I/O as this host reads the file (controller/model_io.py): the worker's
    # interpreter may read what the submitter's could not (a context binary needs QNN's
    # libQnnSystem.so, which the runtimes' environment has).
    io = stored_model_io(ctx.store.artifact_path(model.sha256), model.model_type)
    samples, count, notes = _samples(ctx, job, io[0] if io else [])
    client = entry.transport.connect()
    artifact = model_artifact(ctx.store, job.model_id)
    sha256 = entry.transport.push_artifact(client, artifact, ctx.upload_progress)
    job = ctx.move(job, JobState.RUNNING_INFERENCE)
    run_options = run_options_proto(options, job, entry.facts())
    if options.dequantize_outputs:
        for name, (scale, zero_point) in _quantization(io[1] if io else []).items():
            run_options.output_quantization[name].CopyFrom(
                pb.Quantization(scale=scale, zero_point=zero_point)
            )
    reply = client.infer(
        pb.InferRequest(
            job_id=job.id,
            artifact_sha256=sha256,
            model_filename=artifact.filename,
            model_type=model.model_type,
            options=run_options,
            samples=samples,
        )
    )
    outputs: dict[str, list[Any]] = {}
    for sample in reply.samples:
        for tensor in sample.tensors:
            outputs.setdefault(tensor.name, []).append(tensors.tensor_to_array(tensor))
    ctx.store.set_output_data(job.id, outputs, worker_id=ctx.worker_id)
    applied = applied_to_dict(reply.applied)
    warning = qairt_warning(options.qairt_version, applied)
    ctx.store.set_result(
        job.id,
        {
            "devicelab": {
                **({"warnings": [warning]} if warning else {}),
                # What was done to the samples (float ones quantized for the model).
                **({"notes": notes} if notes else {}),
                "job_id": job.id,
                "device": entry.serial,
                "samples": count,
                "options": options.as_dict(),
                "applied": applied,
                "environment": job_environment(entry, client),
                "retries": job.retries,
                **simulation(job, entry),
            }
        },
        worker_id=ctx.worker_id,
    )
    ctx.move(job, JobState.SUCCESS)


def _quantization(specs: list[TensorInfo]) -> dict[str, tuple[float, int]]:
    """(scale, zero_point) of the per-tensor quantized ones among ``specs``: the agent
    dequantizes outputs with them where its runtime cannot say."""
    return {
        spec.name: (spec.scale, int(spec.zero_point))
        for spec in specs
        if spec.scale is not None and spec.zero_point is not None
    }


def _samples(
    ctx: RunContext, job: JobRecord, inputs: list[TensorInfo]
) -> tuple[list[pb.Sample], int, list[str]]:
    """The job's dataset as the agent receives it (one ``Sample`` per row), its size, and
    notes: float samples for a quantized input are quantized here if the submit could
    not read the model to do it (``quantize_float_inputs``)."""
    assert job.dataset_id is not None
    dataset, converted = quantize_float_inputs(inputs, ctx.store.load_dataset(job.dataset_id))
    names = list(dataset)
    count = len(dataset[names[0]])
    samples = [
        pb.Sample(tensors=[tensors.array_to_tensor(n, dataset[n][i]) for n in names])
        for i in range(count)
    ]
    return samples, count, [*job.spec.get("notes", []), *converted]
