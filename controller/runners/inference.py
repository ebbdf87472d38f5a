"""An inference job on a device: push the model and the inputs, store the outputs."""

from __future__ import annotations

from typing import Any

from agent import serde  # array <-> tensor conversion, shared with the agent
from controller.devices import DeviceEntry
from controller.environment import job_environment
from controller.jobs import JobState
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
    reply = client.infer(
        pb.InferRequest(
            job_id=job.id,
            artifact_sha256=sha256,
            model_filename=artifact.filename,
            model_type=ctx.store.get_model(job.model_id).model_type,
            options=run_options_proto(options, job, entry.facts()),
            samples=samples,
        )
    )
    outputs: dict[str, list[Any]] = {}
    for sample in reply.samples:
        for tensor in sample.tensors:
            outputs.setdefault(tensor.name, []).append(serde.tensor_to_array(tensor))
    ctx.store.set_output_data(job.id, outputs, worker_id=ctx.worker_id)
    applied = applied_to_dict(reply.applied)
    warning = qairt_warning(options.qairt_version, applied)
    ctx.store.set_result(
        job.id,
        {
            "devicelab": {
                **({"warnings": [warning]} if warning else {}),
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


def _samples(ctx: RunContext, job: JobRecord) -> tuple[list[pb.Sample], int]:
    """The job's dataset as the agent receives it (one ``Sample`` per row), and its size."""
    assert job.dataset_id is not None
    dataset = ctx.store.load_dataset(job.dataset_id)
    names = list(dataset)
    count = len(dataset[names[0]])
    samples = [
        pb.Sample(tensors=[serde.array_to_tensor(n, dataset[n][i]) for n in names])
        for i in range(count)
    ]
    return samples, count
