"""Managed job objects: the state machine and what users call on a job.

States follow the cloud service's ``JobStatus.State``; a job only moves
forward, and ends in SUCCESS or FAILED with a message saying why.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.errors import Error, InternalError, UserError


class JobState(enum.Enum):
    CREATED = "created"
    OPTIMIZING_MODEL = "optimizing model"
    QUANTIZING_MODEL = "quantizing model"
    PROVISIONING_DEVICE = "provisioning device"
    MEASURING_PERFORMANCE = "measuring performance"
    RUNNING_INFERENCE = "running inference"
    SUCCESS = "success"
    FAILED = "failed"


_TERMINAL = {JobState.SUCCESS, JobState.FAILED}


@dataclass(frozen=True)
class JobStatus:
    """Status of a job: ``code`` plus a human message (the failure reason)."""

    code: JobState
    message: str = ""

    State = JobState  # the cloud client spells it JobStatus.State

    @property
    def finished(self) -> bool:
        return self.code in _TERMINAL

    @property
    def success(self) -> bool:
        return self.code is JobState.SUCCESS

    @property
    def failure(self) -> bool:
        return self.code is JobState.FAILED

    @property
    def running(self) -> bool:
        return not self.finished and self.code is not JobState.CREATED

    @property
    def pending(self) -> bool:
        return self.code is JobState.CREATED


@dataclass
class Job:
    """A job for a model and a device. Get jobs from the API, not by constructing them."""

    job_id: str
    name: str
    model: Path
    device: Any  # controller.devices.Device
    options: Any  # controller.options.Options
    date: datetime = field(default_factory=lambda: datetime.now(UTC))
    _status: JobStatus = field(default_factory=lambda: JobStatus(JobState.CREATED))
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _error: Error | None = field(default=None, repr=False)
    _cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)

    def get_status(self) -> JobStatus:
        return self._status

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the job ends (or ``timeout`` seconds pass); return its status."""
        self._done.wait(timeout)
        return self._status

    def cancel(self) -> None:
        """Ask the job to stop; it ends FAILED with message 'cancelled'."""
        self._cancel_requested.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested.is_set()

    # --- used by the runner -------------------------------------------------
    def set_state(self, state: JobState, message: str = "") -> None:
        if self._status.finished:
            raise InternalError(f"job {self.job_id} already ended; cannot move to {state.value}")
        self._status = JobStatus(state, message)
        if state in _TERMINAL:
            self._done.set()

    def fail(self, error: Error) -> None:
        self._error = error
        self.set_state(JobState.FAILED, str(error))

    def _raise_if_failed(self) -> None:
        if self._status.failure:
            if isinstance(self._error, UserError):
                raise UserError(f"job {self.job_id} failed: {self._status.message}")
            raise InternalError(f"job {self.job_id} failed: {self._status.message}")


@dataclass
class ProfileJob(Job):
    """Profile job for a model and a device."""

    _result: dict[str, Any] | None = field(default=None, repr=False)
    _partial: dict[str, Any] | None = field(default=None, repr=False)

    def download_profile(self, timeout: float | None = None) -> dict[str, Any]:
        """The profile dict (``execution_summary``, ``execution_detail``, ``devicelab``).

        Waits for the job to finish. Raises the job's error if it failed.
        """
        self.wait(timeout)
        if not self._status.finished:
            raise UserError(f"job {self.job_id} is still {self._status.code.value}")
        self._raise_if_failed()
        assert self._result is not None
        return self._result

    def set_result(self, result: dict[str, Any]) -> None:
        self._result = result


def new_job_id() -> str:
    """Short, sortable, unique enough for a lab: time prefix + random suffix."""
    import secrets

    return f"j{int(time.time()):x}{secrets.token_hex(3)}"
