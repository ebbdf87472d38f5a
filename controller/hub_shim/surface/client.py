"""``qai_hub.client``: the classes and enums the cloud client's module holds, as devicelab's.

qai-hub-models imports from here ``Device``, ``DatasetEntries``, ``QuantizeDtype``,
``QuantizeJob``, ``JobType``, ``JobStatus``, ``Client``, ``InputSpecs``,
``SourceModelType``, ``CompileJob``, ``UserError`` (and names ``SourceModel`` and
``Project`` in annotations).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller import (
    Client,
    CompileJob,
    Dataset,
    Device,
    Error,
    InferenceJob,
    InputSpecs,
    InternalError,
    Job,
    JobStatus,
    JobType,
    LinkJob,
    Model,
    ModelMetadataKey,
    ProfileJob,
    QuantizeDtype,
    QuantizeJob,
    SourceModelType,
    UserError,
)
from controller.client import ClientConfig
from controller.h5_data import DatasetEntries

#: What ``upload_model`` and the submit functions accept as a model, as the client types it.
SourceModel = Model | str | Path | Any


class Project:
    """Accepted for annotations only: devicelab has one store and no projects."""


__all__ = [
    "Client",
    "ClientConfig",
    "CompileJob",
    "Dataset",
    "DatasetEntries",
    "Device",
    "Error",
    "InferenceJob",
    "InputSpecs",
    "InternalError",
    "Job",
    "JobStatus",
    "JobType",
    "LinkJob",
    "Model",
    "ModelMetadataKey",
    "ProfileJob",
    "Project",
    "QuantizeDtype",
    "QuantizeJob",
    "SourceModel",
    "SourceModelType",
    "UserError",
]
