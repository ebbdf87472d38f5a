"""``run_job``: the runner for the job's kind, and what a failure does to the job.

A run that failed for a device reason (``DeviceError``) queues the job again, up to
``DEVICELAB_DEVICE_RETRIES`` times; a run that failed for the model's reason (or
ours) fails the job with that reason.
"""

from __future__ import annotations

import contextlib
import logging

from controller.device_states import HealthSettings
from controller.devices import DeviceEntry
from controller.errors import DeviceError, InternalError, UserError
from controller.jobs import JobState
from controller.runners.compile import run_compile
from controller.runners.context import RunContext
from controller.runners.inference import run_inference
from controller.runners.profile import run_profile
from controller.store import JobRecord, JobStateError

log = logging.getLogger("devicelab.runner")


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
