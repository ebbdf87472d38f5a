"""``qai_hub.hub``: the module functions bound to one default client, ``_global_client``.

qai-hub-models reads ``qai_hub.hub._global_client.config.api_url`` (the key of its
framework cache, ``qai_hub_models/common.py``) and passes ``_global_client.config`` to
``public_rest_api`` functions.
"""

from __future__ import annotations

from typing import Any

from controller import Client
from controller.api import default_lab
from controller.hub_shim.qnn_dlc import context_binary_options

_global_client = Client()


def set_session_token(token: str) -> None:
    """Accepted and ignored: devicelab has no service to sign in to."""
    del token


get_devices = _global_client.get_devices
get_device_attributes = _global_client.get_device_attributes
get_frameworks = _global_client.get_frameworks
upload_model = _global_client.upload_model
get_models = _global_client.get_models
get_model = _global_client.get_model
submit_quantize_job = _global_client.submit_quantize_job
submit_profile_job = _global_client.submit_profile_job
submit_inference_job = _global_client.submit_inference_job
submit_compile_and_profile_jobs = _global_client.submit_compile_and_profile_jobs
submit_link_job = _global_client.submit_link_job
submit_compile_and_link_jobs = _global_client.submit_compile_and_link_jobs
get_job_summaries = _global_client.get_job_summaries
get_job = _global_client.get_job
set_verbose = _global_client.set_verbose
upload_dataset = _global_client.upload_dataset
get_datasets = _global_client.get_datasets
get_dataset = _global_client.get_dataset


def submit_compile_job(
    model: Any,
    device: Any,
    name: str | None = None,
    input_specs: Any = None,
    options: str = "",
    single_compile: bool = True,
    calibration_data: Any = None,
    retry: bool = True,
    project: Any = None,
) -> Any:
    """The client's ``submit_compile_job``; a ``qnn_dlc`` target compiles a context
    binary instead (``controller/hub_shim/qnn_dlc.py`` says why), noted on the job."""
    options, notes = context_binary_options(options)
    return default_lab().submit_compile_job(
        model,
        device,
        name,
        input_specs,
        options,
        single_compile,
        calibration_data,
        notes=notes,
    )


def __getattr__(name: str) -> Any:
    raise AttributeError(f"devicelab's qai_hub.hub has no {name!r}")


__all__ = [
    "set_session_token",
    "get_devices",
    "get_device_attributes",
    "get_frameworks",
    "upload_model",
    "get_model",
    "get_models",
    "submit_compile_job",
    "submit_quantize_job",
    "submit_profile_job",
    "submit_inference_job",
    "submit_link_job",
    "submit_compile_and_profile_jobs",
    "submit_compile_and_link_jobs",
    "get_job",
    "get_job_summaries",
    "set_verbose",
    "upload_dataset",
    "get_dataset",
    "get_datasets",
]
