"""devicelab controller: the public API, re-exported for ``import controller as hub``.

Differences from the cloud client are documented in the README ("The Python API").
"""

from controller.api import (
    get_dataset,
    get_datasets,
    get_device_attributes,
    get_devices,
    get_frameworks,
    get_job,
    get_job_summaries,
    get_jobs,
    get_model,
    get_models,
    set_store,
    set_verbose,
    submit_compile_and_link_jobs,
    submit_compile_and_profile_jobs,
    submit_compile_job,
    submit_inference_job,
    submit_link_job,
    submit_profile_job,
    submit_quantize_job,
    upload_dataset,
    upload_model,
)
from controller.client import Client
from controller.devices import Device
from controller.errors import Error, InternalError, UserError
from controller.frameworks import Framework
from controller.job_handles import (
    CompileJob,
    CompileJobResult,
    InferenceJob,
    InferenceJobResult,
    Job,
    JobResult,
    LinkJob,
    ProfileJob,
    ProfileJobResult,
    QuantizeJob,
    QuantizeJobResult,
)
from controller.job_handles import devicelab_version as _devicelab_version
from controller.job_status import JobStatus, JobType, QuantizeDtype
from controller.job_summaries import (
    CompileJobSummary,
    InferenceJobSummary,
    JobSummary,
    ProfileJobSummary,
    QuantizeJobSummary,
)
from controller.lab import Lab
from controller.managed import Dataset, Model, ModelMetadataKey, SourceModelType
from controller.profile_result import ProfileResult
from controller.specs import InputSpecs, IOSpec, TensorSpec

# The installed distribution's version (as the client's ``hub.__version__``).
__version__ = _devicelab_version()

__all__ = [
    "Client",
    "CompileJob",
    "CompileJobResult",
    "CompileJobSummary",
    "Dataset",
    "Device",
    "Error",
    "Framework",
    "IOSpec",
    "InferenceJob",
    "InferenceJobResult",
    "InferenceJobSummary",
    "InputSpecs",
    "InternalError",
    "Job",
    "JobResult",
    "JobStatus",
    "JobSummary",
    "JobType",
    "Lab",
    "LinkJob",
    "Model",
    "ModelMetadataKey",
    "ProfileJob",
    "ProfileJobResult",
    "ProfileJobSummary",
    "ProfileResult",
    "QuantizeDtype",
    "QuantizeJob",
    "QuantizeJobResult",
    "QuantizeJobSummary",
    "SourceModelType",
    "TensorSpec",
    "UserError",
    "__version__",
    "get_dataset",
    "get_datasets",
    "get_device_attributes",
    "get_devices",
    "get_frameworks",
    "get_job",
    "get_job_summaries",
    "get_jobs",
    "get_model",
    "get_models",
    "set_store",
    "set_verbose",
    "submit_compile_and_link_jobs",
    "submit_compile_and_profile_jobs",
    "submit_compile_job",
    "submit_inference_job",
    "submit_link_job",
    "submit_profile_job",
    "submit_quantize_job",
    "upload_dataset",
    "upload_model",
]
