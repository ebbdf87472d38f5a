"""Job states as the store keeps them (the public ``JobStatus`` is in ``job_status``).

A job only moves forward (the store's ``TRANSITIONS`` table says how) and ends
in SUCCESS or FAILED with a message saying why.
"""

from __future__ import annotations

import enum


class JobState(enum.Enum):
    CREATED = "created"
    OPTIMIZING_MODEL = "optimizing model"
    QUANTIZING_MODEL = "quantizing model"
    PROVISIONING_DEVICE = "provisioning device"
    MEASURING_PERFORMANCE = "measuring performance"
    RUNNING_INFERENCE = "running inference"
    SUCCESS = "success"
    FAILED = "failed"
