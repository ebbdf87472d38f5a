"""A compile job, on this host for the target device's SoC: its output becomes a new model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from controller.devices import Device
from controller.jobs import JobState
from controller.link_jobs import run_link
from controller.runners.artifacts import model_artifact
from controller.runners.context import RunContext
from controller.runners.run_options import job_options
from controller.store import JobRecord


def run_compile(ctx: RunContext, job: JobRecord) -> None:
    """Compile on the host for the target device's SoC; the output becomes a new model."""
    from controller.compile import SourceModel, compile_model

    if job.spec.get("job_type") == "link":
        run_link(ctx, job)
        return

    options = job_options(ctx.store, job)
    device = Device.from_filter(job.device_filter)
    profile = ctx.registry.compile_profile(device)
    calibration = ctx.store.load_dataset(job.dataset_id) if job.dataset_id else None
    stored = model_artifact(ctx.store, job.model_id)
    model_type = ctx.store.get_model(job.model_id).model_type
    # The stored type travels with the file (named by its hash), never re-read from a name.
    source = SourceModel(stored.path, model_type, stored.filename)
    job = ctx.move(job, JobState.OPTIMIZING_MODEL)  # progress messages may move it to quantizing
    specs = {n: (tuple(s), d) for n, (s, d) in (job.spec.get("input_specs") or {}).items()}
    with tempfile.TemporaryDirectory(prefix="devicelab-compile-") as tmp:
        result = compile_model(
            source,
            options,
            device_profile=profile,
            input_specs=specs or None,
            calibration_data=calibration,
            workdir=Path(tmp) / "out",
            progress=lambda message: _progress(ctx, job, message),
        )
        target = ctx.store.add_model(
            result.path,
            name=f"{source.stem}{result.path.suffix}",
            model_type=result.target_runtime,
            metadata={"compiled_by": job.id, "source_model": job.model_id},
        )
    ctx.store.set_result(
        job.id,
        {
            "target_model_id": target.id,
            "target_runtime": result.target_runtime,
            "notes": [*job.spec.get("notes", []), *result.notes],  # the submitter's first
            "details": result.details,
            "device_profile": profile.part_number if profile else None,
        },
        worker_id=ctx.worker_id,
    )
    ctx.move(job, JobState.SUCCESS)


def _progress(ctx: RunContext, job: JobRecord, message: str) -> None:
    state = (
        JobState.QUANTIZING_MODEL if message.startswith("quantiz") else JobState.OPTIMIZING_MODEL
    )
    ctx.move(job, state, message)
