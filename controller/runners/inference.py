"""An inference job on a device: push the model and the inputs, store the outputs."""

from __future__ import annotations

from typing import Any

from contract import tensors  # array <-> Tensor, shared with the agent
from controller.devices import DeviceEntry
from controller.environment import job_environment
from controller.jobs import JobState
from controller.model_io import model_io
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
    samples, count = _samples(ctx, job)
    client = entry.transport.connect()
    artifact = model_artifact(ctx.store, job.model_id)
    sha256 = entry.transport.push_artifact(client, artifact, ctx.upload_progress)
    job = ctx.move(job, JobState.RUNNING_INFERENCE)
    model = ctx.store.get_model(job.model_id)
    run_options = run_options_proto(options, job, entry.facts())
    if options.dequantize_outputs:
        for name, (scale, zero_point) in _output_quantization(ctx, model).items():
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
                # What the submit did to the samples (float ones quantized for the model).
                **({"notes": job.spec["notes"]} if job.spec.get("notes") else {}),
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


def _output_quantization(ctx: RunContext, model: Any) -> dict[str, tuple[float, int]]:
    """(scale, zero_point) of the model's quantized outputs as this host reads the file
    (``controller/model_io.py``); the agent uses them where its runtime cannot say."""
    io = model_io(ctx.store.artifact_path(model.sha256), model.model_type)
    return {
        spec.name: (spec.scale, int(spec.zero_point))
        for spec in (io[1] if io else [])
        if spec.scale is not None and spec.zero_point is not None
    }


def _samples(ctx: RunContext, job: JobRecord) -> tuple[list[pb.Sample], int]:
    """The job's dataset as the agent receives it (one ``Sample`` per row), and its size."""
    assert job.dataset_id is not None
    dataset = ctx.store.load_dataset(job.dataset_id)
    names = list(dataset)
    count = len(dataset[names[0]])
    samples = [
        pb.Sample(tensors=[tensors.array_to_tensor(n, dataset[n][i]) for n in names])
        for i in range(count)
    ]
    return samples, count
