"""Job states and status (the cloud service's ``JobStatus`` and its ``State``).

A job only moves forward (the store's ``TRANSITIONS`` table says how) and ends
in SUCCESS or FAILED with a message saying why.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
