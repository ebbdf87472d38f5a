"""Running one claimed job: profile and inference on a device, compile on the host.

A runner gets a job the worker already claimed (state ``provisioning device``),
moves it forward, persists what it learns as it arrives, and ends it SUCCESS
or FAILED with a reason. Every transition passes the worker id, so a runner
that lost its job (cancelled, or recovered by another worker) cannot touch it.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent import serde  # array <-> tensor conversion, shared with the agent
from agent.formats import suffix_of_type
from controller import settings as lab_settings
from controller.agent_client import Artifact, ProgressCallback
from controller.device_states import HealthSettings
from controller.devices import Device, DeviceEntry, DeviceRegistry
from controller.devices.simulated import TWIN_OF_KEY, simulation_record
from controller.environment import job_environment
from controller.errors import DeviceError, InternalError, UserError
from controller.job_follow import EventListener
from controller.jobs import JobState
from controller.link_jobs import run_link
from controller.liveness import StreamLimits, StreamWatchdog, find_stalls, stall_warning
from controller.options import Options, parse_options
from controller.qairt import qairt_warning
from controller.results import ProfileResultBuilder, applied_to_dict, npu_unused_warning
from controller.store import RUNNING_STATES, JobRecord, JobStateError, Store
from controller.transports.base import Transport
from controller.transports.health import wait_until_cool
from protos import agent_pb2 as pb

log = logging.getLogger("devicelab.runner")


class JobHooks(Protocol):
    """Callbacks a worker's caller can attach to the jobs it submitted."""

    def listener(self, job: JobRecord, event: pb.ProfileEvent) -> None: ...

    def upload_progress(self, job_id: str) -> ProgressCallback | None: ...


DEFAULT_WARMUP_ITERATIONS = 1
DEFAULT_LAYER_PROFILE_ITERATIONS = 3
# How often a running job looks at the store for a cancel (a read, cheap).
_CANCEL_POLL_SEC = 0.5


@dataclass
class RunContext:
    """What a runner needs besides the job."""

    store: Store
    worker_id: str
    registry: DeviceRegistry
    listener: EventListener | None = None
    upload_progress: ProgressCallback | None = None

    def move(self, job: JobRecord, state: JobState, message: str = "") -> JobRecord:
        # Only from a running state: a job handed back (queued again, held by no
        # one) must not be failed, or taken back, by the run that gave it up.
        return self.store.transition(
            job.id, state, message, RUNNING_STATES, worker_id=self.worker_id
        )

    def cancelled(self, job: JobRecord) -> bool:
        return self.store.get_job(job.id).state is JobState.FAILED


def model_artifact(store: Store, model_id: str) -> Artifact:
    """The stored model as the agent must receive it: the agent picks the runtime by
    suffix, so the name carries its type's (a user-chosen name such as "My Model" has
    none)."""
    model = store.get_model(model_id)
    suffix = suffix_of_type(model.model_type)
    name = model.name if model.name.endswith(suffix) else f"{Path(model.name).stem}{suffix}"
    return Artifact(store.artifact_path(model.sha256), model.sha256, name)


def job_options(store: Store, job: JobRecord, model_id: str | None = None) -> Options:
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


def run_job(ctx: RunContext, job: JobRecord, entry: DeviceEntry | None) -> str | None:
    """Run a claimed job to its end; never raises for the job's own failures.

    A run that failed for a device reason (``DeviceError``: agent lost or silent, adb
    gone, push failed) queues the job again, up to ``DEVICELAB_DEVICE_RETRIES`` times,
    and returns the reason, so the worker checks the device before its next job. A run
    that failed for the model's reason (or ours) fails the job, and returns None.
    """
    try:
        if job.kind == "profile":
            assert entry is not None
            run_profile(ctx, job, entry)
        elif job.kind == "inference":
            assert entry is not None
            run_inference(ctx, job, entry)
        else:
            run_compile(ctx, job)
    except JobStateError as exc:
        current = ctx.store.get_job(job.id)
        if current.finished or current.worker_id != ctx.worker_id:
            log.info("job %s left to its new state: %s", job.id, exc)  # cancelled or taken over
        else:  # a move our own code got wrong: never leave the job hanging
            log.exception("job %s: refused state change", job.id)
            _fail(ctx, job, f"internal error: {exc}")
    except DeviceError as exc:
        if entry is None:
            _fail(ctx, job, str(exc))
            return None
        return _retry_or_fail(ctx, job, entry.serial, str(exc))
    except (UserError, InternalError) as exc:
        _fail(ctx, job, str(exc))
    except Exception as exc:  # our bug: still end the job, never leave it running
        log.exception("job %s crashed", job.id)
        _fail(ctx, job, f"internal error: {type(exc).__name__}: {exc}")
    return None


def _retry_or_fail(ctx: RunContext, job: JobRecord, serial: str, reason: str) -> str | None:
    """Queue the job again after its device failed (or fail it past the retries); the
    reason to hold against the device, or None when the job was no longer this run's
    (handed back by a stopping worker, whose closing connections are no device's fault)."""
    settings = HealthSettings.from_env()
    after = ctx.store.retry_after_device_failure(
        job.id, ctx.worker_id, serial, reason, settings.max_retries
    )
    if after is None:
        return None
    log.info("job %s: device %s failed (%s): %s", job.id, serial, reason, after.message)
    return reason


def _fail(ctx: RunContext, job: JobRecord, message: str) -> None:
    with contextlib.suppress(JobStateError):  # already ended (cancelled) or re-assigned
        ctx.move(job, JobState.FAILED, message)


# --- profile ---------------------------------------------------------------------------


def profiled_model_id(store: Store, job: JobRecord) -> str:
    """The model a profile job runs: its own, or its parent compile job's output."""
    if job.parent_job_id is None:
        return job.model_id
    result = store.get_result(job.parent_job_id) or {}
    if "target_model_id" not in result:
        raise InternalError(f"compile job {job.parent_job_id} left no target model")
    return str(result["target_model_id"])


def run_profile(ctx: RunContext, job: JobRecord, entry: DeviceEntry) -> None:
    model_id = profiled_model_id(ctx.store, job)
    options = job_options(ctx.store, job, model_id)
    client = entry.transport.connect()
    artifact = model_artifact(ctx.store, model_id)
    request = pb.ProfileRequest(
        job_id=job.id,
        artifact_sha256=entry.transport.push_artifact(client, artifact, ctx.upload_progress),
        model_filename=artifact.filename,  # the agent runs it under this name, not the stored one
        options=run_options_proto(options, job, entry.facts()),
        max_iterations=options.max_profiler_iterations,
        max_time_s=options.max_profiler_time,
        warmup_iterations=DEFAULT_WARMUP_ITERATIONS,
        layer_profile_iterations=int(
            job.spec.get("layer_profile_iterations", DEFAULT_LAYER_PROFILE_ITERATIONS)
        ),
    )
    environment = job_environment(entry, client)
    health = {"before": health_before(entry.transport)}
    job = ctx.move(job, JobState.MEASURING_PERFORMANCE)
    builder = _stream_profile(ctx, job, client, request, entry.serial)
    health["after"] = entry.transport.health()
    extra = _result_extras(ctx.store, job, model_id, entry, options, health)
    extra["environment"] = environment
    result = _with_stall_flags(_with_warnings(builder.build(extra), options), builder)
    ctx.store.set_result(job.id, result, worker_id=ctx.worker_id)
    _raise_agent_error(builder, entry.serial)
    if builder.summary is None:
        raise InternalError(f"[{entry.serial}] the agent's stream ended without a summary")
    ctx.move(job, JobState.SUCCESS)


def _stream_profile(
    ctx: RunContext, job: JobRecord, client: Any, request: pb.ProfileRequest, serial: str
) -> ProfileResultBuilder:
    """Stream the agent's events into the store (as they arrive) and a result builder.

    A watchdog cuts the stream when the agent shows no sign of life or a stage overran
    (``controller/liveness.py``); the job then fails with that reason.
    """
    builder = ProfileResultBuilder()
    last_poll = time.monotonic()
    limits = StreamLimits.from_env()
    request.heartbeat_s = limits.heartbeat_s
    stream = client.profile(request)
    seq = 0
    with StreamWatchdog(limits, request.max_time_s, stream.cancel) as watchdog:
        try:
            for event in stream:
                watchdog.saw(event)
                if event.WhichOneof("event") != "heartbeat":  # liveness, not a measurement
                    _record_event(ctx, job, seq, event, builder)
                    seq += 1
                if time.monotonic() - last_poll > _CANCEL_POLL_SEC:
                    last_poll = time.monotonic()
                    if ctx.cancelled(job):
                        client.cancel(job.id)
        except InternalError as exc:
            if watchdog.reason is None:
                raise DeviceError(
                    f"{exc} — the connection to the agent was lost during the job "
                    "(agent process died or device disconnected)"
                ) from exc
            # No Cancel call: the agent may be frozen, and it ends a job whose stream was
            # cut by itself (its servicer's RPC-done callback), once it runs again.
            raise DeviceError(f"[{serial}] {watchdog.reason}") from exc
    return builder


def _record_event(
    ctx: RunContext, job: JobRecord, seq: int, event: pb.ProfileEvent, builder: ProfileResultBuilder
) -> None:
    builder.add(event)
    kind = event.WhichOneof("event") or "unknown"
    # worker_id: once this worker handed the job back, a late event of its run is refused
    # even if another worker has re-claimed the job meanwhile.
    ctx.store.append_events(
        job.id,
        [(seq, kind, event.SerializeToString())],
        attempt=job.attempt,
        worker_id=ctx.worker_id,
    )
    if ctx.listener is not None:
        ctx.listener(job, event)


def _with_stall_flags(result: dict[str, Any], builder: ProfileResultBuilder) -> dict[str, Any]:
    """Pauses in the timed loop (a frozen-then-resumed agent) flagged, never silent."""
    loop_time_s = builder.summary.loop_time_s if builder.summary else 0.0
    stalls = find_stalls(builder.latencies_us, loop_time_s)
    if stalls is not None:
        result["devicelab"]["stalls"] = stalls
        result["devicelab"].setdefault("warnings", []).append(stall_warning(stalls))
    return result


def _raise_agent_error(builder: ProfileResultBuilder, serial: str) -> None:
    error = builder.error
    if error is None:
        return
    if error.kind == pb.ErrorInfo.USER:
        raise UserError(f"[{serial}] {error.error_type}: {error.message}")
    if error.kind == pb.ErrorInfo.CANCELLED:
        raise UserError(f"[{serial}] cancelled")
    raise InternalError(f"[{serial}] {error.error_type}: {error.message}")


def _with_warnings(result: dict[str, Any], options: Options) -> dict[str, Any]:
    """Lines a reader must not miss (``devicelab.warnings``; the CLI prints them loudly)."""
    applied = result["devicelab"].get("applied") or {}
    for warning in (
        npu_unused_warning(result, options.compute_unit),
        qairt_warning(options.qairt_version, applied),
    ):
        if warning is not None:
            result["devicelab"].setdefault("warnings", []).append(warning)
    return result


def _result_extras(
    store: Store,
    job: JobRecord,
    model_id: str,
    entry: DeviceEntry,
    options: Options,
    health: dict[str, Any],
) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "device": entry.serial,
        "device_name": entry.name,
        "model": store.get_model(model_id).name,
        "model_id": model_id,
        "options": options.as_dict(),
        "device_health": health,
        "retries": job.retries,  # earlier runs its devices failed: [{device, reason, at}]
        **_simulation(job, entry),
    }


def _simulation(job: JobRecord, entry: DeviceEntry) -> dict[str, Any]:
    """``simulated`` on every result; what was simulated, and for whom, when it was."""
    if not entry.simulated or entry.profile is None:
        return {"simulated": False}
    twin_of = job.device_filter.get(TWIN_OF_KEY)
    return {"simulated": True, "simulation": simulation_record(entry.profile, twin_of)}


def health_before(transport: Transport) -> dict[str, Any]:
    """Health before the run; waits first while the device is hotter than configured.

    ``DEVICELAB_MAX_START_TEMP_C`` (unset: never wait) and
    ``DEVICELAB_COOLDOWN_TIMEOUT_S`` (default 300) configure the wait.
    """
    limit = lab_settings.number("DEVICELAB_MAX_START_TEMP_C")
    timeout = lab_settings.seconds("DEVICELAB_COOLDOWN_TIMEOUT_S")
    start = time.monotonic()
    health = wait_until_cool(transport.health, limit, timeout)
    health["cooldown_wait_s"] = round(time.monotonic() - start, 3)
    return health


# --- inference -------------------------------------------------------------------------


def run_inference(ctx: RunContext, job: JobRecord, entry: DeviceEntry) -> None:
    options = job_options(ctx.store, job)
    assert job.dataset_id is not None
    dataset = ctx.store.load_dataset(job.dataset_id)
    names = list(dataset)
    count = len(dataset[names[0]])
    samples = [
        pb.Sample(tensors=[serde.array_to_tensor(n, dataset[n][i]) for n in names])
        for i in range(count)
    ]
    client = entry.transport.connect()
    artifact = model_artifact(ctx.store, job.model_id)
    sha256 = entry.transport.push_artifact(client, artifact, ctx.upload_progress)
    job = ctx.move(job, JobState.RUNNING_INFERENCE)
    reply = client.infer(
        pb.InferRequest(
            job_id=job.id,
            artifact_sha256=sha256,
            model_filename=artifact.filename,
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
                **_simulation(job, entry),
            }
        },
        worker_id=ctx.worker_id,
    )
    ctx.move(job, JobState.SUCCESS)


# --- compile ---------------------------------------------------------------------------


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
