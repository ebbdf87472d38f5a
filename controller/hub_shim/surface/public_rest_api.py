"""``qai_hub.public_rest_api``: the few REST-level functions qai-hub-models calls.

``get_framework_list(config).frameworks`` (``qai_hub_models/common.py`` reads ``name``,
``full_version``, ``api_tags``) and ``get_job_results(config, job_id)``
(``qai_hub_models/configs/tool_versions.py`` reads the tool versions a job ran or
compiled with), answered from devicelab's store instead of a web service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller import api
from controller.errors import UserError
from controller.frameworks import Framework
from controller.h5_data import DatasetEntries
from controller.hub_shim.tool_versions import compile_tools, run_tools
from controller.managed import Dataset, Model


@dataclass
class FrameworkList:
    """The cloud's ``FrameworkList`` message: ``frameworks``."""

    frameworks: list[Framework] = field(default_factory=list)


@dataclass
class ToolVersion:
    """One tool a job used: ``name`` (e.g. "ONNX Runtime", "QAIRT") and ``version``."""

    name: str
    version: str


@dataclass
class _Detail:
    tool_versions: list[ToolVersion] = field(default_factory=list)


@dataclass
class _InferenceResult:
    detail: _Detail = field(default_factory=_Detail)


@dataclass
class _CompileResult:
    compile_detail: _Detail = field(default_factory=_Detail)


@dataclass
class JobResultView:
    """The fields of the cloud's ``JobResult`` message that scripts read."""

    inference_job_result: _InferenceResult = field(default_factory=_InferenceResult)
    compile_job_result: _CompileResult = field(default_factory=_CompileResult)


def get_framework_list(config: Any = None) -> FrameworkList:
    """Refused: the cloud's catalogue of QAIRT versions to choose from has no equivalent.

    A device runs the QNN SDK it has; ``--qairt_version X`` is accepted, recorded, and
    the result says when the version that ran differs. qai-hub-models treats a failing
    framework list as "no service to validate versions against" and goes on
    (``QAIRTVersion._load_frameworks`` in ``qai_hub_models/common.py``); listing the one
    real version instead would make it refuse its own default (2.50) before submitting.

    Raises:
        UserError: always, naming ``get_frameworks()``, which lists what really runs.
    """
    raise UserError(
        "devicelab keeps no catalogue of QAIRT versions to choose from: each device runs "
        "the QNN SDK it has; --qairt_version is accepted and recorded, and the result says "
        "which version ran. get_frameworks() lists the versions this host runs."
    )


def get_job_results(config: Any, job_id: str) -> JobResultView:
    """The tool versions job ``job_id`` ran (profile, inference) or compiled with."""
    store = api.current_store()
    record = store.get_job(job_id)
    result = store.get_result(job_id) or {}
    if record.kind == "compile":
        tools = [ToolVersion(n, v) for n, v in compile_tools(result)]
        return JobResultView(compile_job_result=_CompileResult(_Detail(tools)))
    tools = [ToolVersion(n, v) for n, v in run_tools(result)]
    return JobResultView(inference_job_result=_InferenceResult(_Detail(tools)))


def get_model(config: Any, model_id: str) -> Model:
    """The stored model ``model_id``."""
    return api.get_model(model_id)


def get_dataset(config: Any, dataset_id: str) -> Dataset:
    """The stored dataset ``dataset_id``."""
    return api.get_dataset(dataset_id)


__all__ = [
    "DatasetEntries",
    "FrameworkList",
    "JobResultView",
    "ToolVersion",
    "get_dataset",
    "get_framework_list",
    "get_job_results",
    "get_model",
]
