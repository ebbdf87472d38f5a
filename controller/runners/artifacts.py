"""Which stored model a job runs, and the file the agent receives for it."""

from __future__ import annotations

from pathlib import Path

from contract.formats import suffix_of_type
from controller.agent_client import Artifact
from controller.errors import InternalError
from controller.store import JobRecord, Store


def model_artifact(store: Store, model_id: str) -> Artifact:
    """The stored model as the agent must receive it: an older agent picks the runtime by
    suffix, so the name carries its type's (a user-chosen name such as "My Model" has
    none)."""
    model = store.get_model(model_id)
    suffix = suffix_of_type(model.model_type)
    name = model.name if model.name.endswith(suffix) else f"{Path(model.name).stem}{suffix}"
    return Artifact(store.artifact_path(model.sha256), model.sha256, name)


def profiled_model_id(store: Store, job: JobRecord) -> str:
    """The model a profile job runs: its own, or its parent compile job's output."""
    if job.parent_job_id is None:
        return job.model_id
    result = store.get_result(job.parent_job_id) or {}
    if "target_model_id" not in result:
        raise InternalError(f"compile job {job.parent_job_id} left no target model")
    return str(result["target_model_id"])
