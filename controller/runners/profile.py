"""A profile job on a device: push the model, stream the agent's events, store the result."""

from __future__ import annotations

from controller.devices import DeviceEntry
from controller.environment import job_environment
from controller.errors import InternalError, UserError
from controller.jobs import JobState
from controller.results import ProfileResultBuilder
from controller.runners.artifacts import model_artifact, profiled_model_id
from controller.runners.context import RunContext
from controller.runners.cooldown import health_before
from controller.runners.events import stream_profile
from controller.runners.result_parts import profile_extras, with_stall_flags, with_warnings
from controller.runners.run_options import job_options, run_options_proto
from controller.store import JobRecord
from protos import agent_pb2 as pb

DEFAULT_WARMUP_ITERATIONS = 1
# Separate profiled iterations after the timed loop (latency never comes from them).
DEFAULT_LAYER_PROFILE_ITERATIONS = 3


def run_profile(ctx: RunContext, job: JobRecord, entry: DeviceEntry) -> None:
    """Profile the job's model (or its parent compile job's output) on ``entry``."""
    model_id = profiled_model_id(ctx.store, job)
    model = ctx.store.get_model(model_id)
    options = job_options(ctx.store, job, model_id)
    client = entry.transport.connect()
    artifact = model_artifact(ctx.store, model_id)
    request = pb.ProfileRequest(
        job_id=job.id,
        artifact_sha256=entry.transport.push_artifact(client, artifact, ctx.upload_progress),
        model_filename=artifact.filename,  # the agent runs it under this name, not the stored one
        model_type=model.model_type,  # picks the runtime; an older agent reads the suffix
        options=run_options_proto(options, job, entry.facts()),
        max_iterations=options.max_profiler_iterations,
        max_time_s=options.max_profiler_time,
        warmup_iterations=DEFAULT_WARMUP_ITERATIONS,
        layer_profile_iterations=DEFAULT_LAYER_PROFILE_ITERATIONS,
    )
    environment = job_environment(entry, client)
    health = {"before": health_before(entry.transport)}
    job = ctx.move(job, JobState.MEASURING_PERFORMANCE)
    builder = stream_profile(ctx, job, client, request, entry.serial)
    health["after"] = entry.transport.health()
    extra = profile_extras(job, model_id, model, entry, options, health)
    extra["environment"] = environment
    result = with_stall_flags(with_warnings(builder.result(extra), options))
    ctx.store.set_result(job.id, result.to_stored(), worker_id=ctx.worker_id)
    _raise_agent_error(builder, entry.serial)
    if builder.summary is None:
        raise InternalError(f"[{entry.serial}] the agent's stream ended without a summary")
    ctx.move(job, JobState.SUCCESS)


def _raise_agent_error(builder: ProfileResultBuilder, serial: str) -> None:
    error = builder.error
    if error is None:
        return
    if error.category == "user":
        raise UserError(f"[{serial}] {error.error_type}: {error.message}")
    if error.category == "cancelled":
        raise UserError(f"[{serial}] cancelled")
    raise InternalError(f"[{serial}] {error.error_type}: {error.message}")
