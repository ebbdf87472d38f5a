"""Runs one profile job against an agent and fills in the job's result.

Everything here happens after the options were validated: the job already
exists, and every failure from now on ends it FAILED with a reason.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from controller.agent_client import ProgressCallback
from controller.device_health import wait_until_cool
from controller.errors import Error, InternalError, UserError
from controller.jobs import JobState, ProfileJob
from controller.results import ProfileResultBuilder
from controller.transports.base import Transport
from protos import agent_pb2 as pb

log = logging.getLogger("devicelab.runner")

EventListener = Callable[[ProfileJob, pb.ProfileEvent], None]

DEFAULT_WARMUP_ITERATIONS = 1
DEFAULT_LAYER_PROFILE_ITERATIONS = 3


def run_options_proto(
    options: Any, input_specs: dict[str, Any] | None, device_facts: dict[str, Any]
) -> pb.RunOptions:
    """The agent's view of validated options, plus device facts from the profile."""
    specs = [
        pb.InputSpec(name=name, shape=list(_shape_of(spec)), dtype=_dtype_of(spec))
        for name, spec in (input_specs or {}).items()
    ]
    return pb.RunOptions(
        compute_units=list(options.compute_unit),
        tflite_delegates=list(options.tflite_delegates),
        tflite_options=options.tflite_options_wire(),
        qnn_options=options.qnn_options_wire(),
        onnx_execution_providers=list(options.onnx_execution_providers),
        input_specs=specs,
        soc_model=str(device_facts.get("soc_model", "")),
        htp_arch=str(device_facts.get("htp_arch", "")),
        library_dirs=list(device_facts.get("library_dirs", [])),
    )


def _shape_of(spec: Any) -> tuple[int, ...]:
    # input_specs follow the cloud client: name -> shape, or name -> (shape, dtype)
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], str):
        return tuple(spec[0])
    return tuple(spec)


def _dtype_of(spec: Any) -> str:
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], str):
        return spec[1]
    return ""


def run_profile_job(
    job: ProfileJob,
    transport: Transport,
    request: pb.ProfileRequest,
    listener: EventListener | None = None,
    upload_progress: ProgressCallback | None = None,
) -> None:
    """Provision the device, upload the model if needed, stream the profile."""
    try:
        job.set_state(JobState.PROVISIONING_DEVICE)
        client = transport.connect()
        request.artifact_sha256 = transport.push_artifact(client, job.model, upload_progress)
        health = {"before": _health_before(transport)}
        job.set_state(JobState.MEASURING_PERFORMANCE)
        builder = ProfileResultBuilder()
        try:
            for event in client.profile(request):
                builder.add(event)
                if listener is not None:
                    listener(job, event)
                if job.cancel_requested and event.WhichOneof("event") != "error":
                    client.cancel(job.job_id)
        except InternalError as exc:
            raise InternalError(
                f"{exc} — the connection to the agent was lost during the job "
                "(agent process died or device disconnected)"
            ) from exc
        health["after"] = transport.health()
        _finish(job, builder, transport.serial, health)
    except Error as exc:
        job.fail(exc)
    except Exception as exc:  # our bug: still end the job, never leave it running
        log.exception("job %s crashed", job.job_id)
        job.fail(InternalError(f"{type(exc).__name__}: {exc}"))


def _health_before(transport: Transport) -> dict[str, Any]:
    """Health before the run; waits first while the device is hotter than configured.

    ``DEVICELAB_MAX_START_TEMP_C`` (unset: never wait) and
    ``DEVICELAB_COOLDOWN_TIMEOUT_S`` (default 300) configure the wait.
    """
    limit = os.environ.get("DEVICELAB_MAX_START_TEMP_C")
    timeout = float(os.environ.get("DEVICELAB_COOLDOWN_TIMEOUT_S", "300"))
    start = time.monotonic()
    health = wait_until_cool(transport.health, float(limit) if limit else None, timeout)
    health["cooldown_wait_s"] = round(time.monotonic() - start, 3)
    return health


def _finish(
    job: ProfileJob, builder: ProfileResultBuilder, serial: str, health: dict[str, Any]
) -> None:
    extra = {
        "job_id": job.job_id,
        "device": serial,
        "model": job.model.name,
        "options": job.options.as_dict(),
        "device_health": health,
    }
    if builder.error is not None:
        error = builder.error
        job._partial = builder.build(extra)
        if error.kind == pb.ErrorInfo.USER:
            raise UserError(f"[{serial}] {error.error_type}: {error.message}")
        if error.kind == pb.ErrorInfo.CANCELLED:
            raise UserError(f"[{serial}] cancelled")
        raise InternalError(f"[{serial}] {error.error_type}: {error.message}")
    if builder.summary is None:
        raise InternalError(f"[{serial}] the agent's stream ended without a summary")
    job.set_result(builder.build(extra))
    job.set_state(JobState.SUCCESS)
