"""The public API (the seed service's "Core API"), for scripts written against the cloud.

    import controller as hub
    job = hub.submit_profile_job("model.onnx", hub.Device("local"),
                                 options="--max_profiler_iterations 50")
    profile = job.download_profile()
    profile["execution_summary"]["estimated_inference_time"]   # microseconds

Validation happens here, before a job exists: a bad option, model file or
device raises ``UserError`` and nothing is queued or run.
"""

from __future__ import annotations

import atexit
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from controller.agent_client import ProgressCallback
from controller.devices import Device, DeviceRegistry
from controller.errors import UserError
from controller.jobs import Job, ProfileJob, new_job_id
from controller.model_files import check_model_file
from controller.options import parse_options
from controller.profile_runner import (
    DEFAULT_LAYER_PROFILE_ITERATIONS,
    DEFAULT_WARMUP_ITERATIONS,
    EventListener,
    run_options_proto,
    run_profile_job,
)
from protos import agent_pb2 as pb

_registry = DeviceRegistry()
_jobs: dict[str, Job] = {}
_jobs_lock = threading.Lock()
# Jobs on different devices run in parallel; the agent runs one job at a time,
# so two jobs on one device queue there.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="devicelab-job")
_verbose = False


def set_verbose(verbose: bool = True) -> None:
    """If true, API calls may print progress to standard output."""
    global _verbose
    _verbose = verbose


def get_devices(
    name: str = "", os: str = "", attributes: str | list[str] | tuple[str, ...] = ()
) -> list[Device]:
    """Devices this controller can reach that match all given filters.

    Example:
        get_devices(attributes="framework:qnn")   # every device with a QNN backend
    """
    if not (name or os or attributes):
        return [entry.as_device() for entry in _registry.entries()]
    return [entry.as_device() for entry in _registry.find(Device(name, os, attributes))]


def get_device_attributes() -> list[str]:
    """The super set of the attributes of every reachable device."""
    return sorted({attr for entry in _registry.entries() for attr in entry.attributes})


def get_job(job_id: str) -> Job:
    with _jobs_lock:
        job = _jobs.get(job_id)
    if job is None:
        raise UserError(f"no job with id {job_id!r}")
    return job


def get_jobs() -> list[Job]:
    with _jobs_lock:
        return sorted(_jobs.values(), key=lambda job: job.date, reverse=True)


def submit_profile_job(
    model: str | Path,
    device: Device | None = None,
    name: str | None = None,
    options: str | list[str] = "",
    *,
    input_specs: dict[str, Any] | None = None,
    listener: EventListener | None = None,
    upload_progress: ProgressCallback | None = None,
) -> ProfileJob:
    """Submit a profiling job; returns at once with the job (``job.wait()`` to block).

    Args:
        model: path to a ``.tflite``, ``.onnx`` or QNN ``.bin`` file.
        device: the target; None = this host (the embedded default device).
        name: a label for the job (default: the model file's stem).
        options: the option string, as in the cloud service's docs.
        input_specs: devicelab extension: concrete input shapes (name -> shape or
            (shape, dtype)) for models with dynamic dimensions.
        listener: devicelab extension: called with every event the agent streams.
        upload_progress: devicelab extension: called with (bytes_done, total).

    Raises:
        UserError: bad model file, option, or no matching device — before anything runs.
    """
    path = Path(model)
    target_runtime = check_model_file(path)
    parsed = parse_options(options, job="profile", target_runtime=target_runtime)
    entry = _registry.resolve(device)
    job = ProfileJob(
        job_id=new_job_id(),
        name=name or path.stem,
        model=path,
        device=entry.as_device(),
        options=parsed,
    )
    request = pb.ProfileRequest(
        job_id=job.job_id,
        options=run_options_proto(parsed, input_specs, device_facts=entry.facts()),
        max_iterations=parsed.max_profiler_iterations,
        max_time_s=parsed.max_profiler_time,
        warmup_iterations=DEFAULT_WARMUP_ITERATIONS,
        layer_profile_iterations=DEFAULT_LAYER_PROFILE_ITERATIONS,
    )
    with _jobs_lock:
        _jobs[job.job_id] = job
    _executor.submit(run_profile_job, job, entry.transport, request, listener, upload_progress)
    return job


@atexit.register
def _shutdown() -> None:
    _executor.shutdown(wait=False, cancel_futures=True)
    _registry.close()
