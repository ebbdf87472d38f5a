"""devicelab controller: the public API, re-exported for ``import controller as hub``.

Differences from the cloud client are documented in the README ("The Python API").
"""

from controller.api import (
    get_dataset,
    get_datasets,
    get_device_attributes,
    get_devices,
    get_job,
    get_jobs,
    get_model,
    get_models,
    set_verbose,
    submit_compile_and_profile_jobs,
    submit_compile_job,
    submit_inference_job,
    submit_profile_job,
    upload_dataset,
    upload_model,
)
from controller.devices import Device
from controller.errors import Error, InternalError, UserError
from controller.job_handles import (
    CompileJob,
    CompileJobResult,
    InferenceJob,
    InferenceJobResult,
    Job,
    ProfileJob,
    ProfileJobResult,
)
from controller.job_status import JobStatus, JobType
from controller.managed import Dataset, Model, SourceModelType

__all__ = [
    "CompileJob",
    "CompileJobResult",
    "Dataset",
    "Device",
    "Error",
    "InferenceJob",
    "InferenceJobResult",
    "InternalError",
    "Job",
    "JobStatus",
    "JobType",
    "Model",
    "ProfileJob",
    "ProfileJobResult",
    "SourceModelType",
    "UserError",
    "get_dataset",
    "get_datasets",
    "get_device_attributes",
    "get_devices",
    "get_job",
    "get_jobs",
    "get_model",
    "get_models",
    "set_verbose",
    "submit_compile_and_profile_jobs",
    "submit_compile_job",
    "submit_inference_job",
    "submit_profile_job",
    "upload_dataset",
    "upload_model",
]
