"""devicelab controller: the public API, re-exported for ``import controller as hub``."""

from controller.api import (
    get_device_attributes,
    get_devices,
    get_job,
    get_jobs,
    set_verbose,
    submit_profile_job,
)
from controller.devices import Device
from controller.errors import Error, InternalError, UserError
from controller.jobs import Job, JobStatus, ProfileJob

__all__ = [
    "Device",
    "Error",
    "InternalError",
    "Job",
    "JobStatus",
    "ProfileJob",
    "UserError",
    "get_device_attributes",
    "get_devices",
    "get_job",
    "get_jobs",
    "set_verbose",
    "submit_profile_job",
]
