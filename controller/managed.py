"""Managed objects the API returns (the seed's "Managed objects").

They are handles over the store: a ``Job`` reads its state from the store on
every call, so any process sharing the store sees the same job. Users get them
from the API (``upload_model``, ``submit_profile_job``, ``get_job``...), never
by constructing them.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from controller.devices import Device
from controller.errors import InternalError, UserError
from controller.jobs import JobState, JobStatus
from controller.store import DatasetRecord, JobRecord, ModelRecord, Store

_WAIT_POLL_SEC = 0.1


class SourceModelType(enum.Enum):
    """Set of supported input model types (what a model file is)."""

    TFLITE = "tflite"
    ONNX = "onnx"
    QNN_CONTEXT_BINARY = "qnn_context_binary"
    QNN_LIB_AARCH64_ANDROID = "qnn_lib_aarch64_android"


@dataclass(frozen=True)
class Model:
    """Neural network model object."""

    model_id: str
    name: str
    model_type: SourceModelType
    date: datetime
    sha256: str
    _store: Store = field(repr=False, compare=False)

    @classmethod
    def _from(cls, store: Store, record: ModelRecord) -> Model:
        return cls(
            record.id,
            record.name,
            SourceModelType(record.model_type),
            record.created_at,
            record.sha256,
            store,
        )

    def download(self, filename: str | Path) -> Path:
        """Write the model's bytes to ``filename``; return the path."""
        target = Path(filename)
        target.write_bytes(self._store.artifact_path(self.sha256).read_bytes())
        return target


@dataclass(frozen=True)
class Dataset:
    """A dataset (inputs for inference jobs, calibration for compile jobs)."""

    dataset_id: str
    name: str
    creation_time: datetime
    expiration_time: datetime
    _store: Store = field(repr=False, compare=False)

    @classmethod
    def _from(cls, store: Store, record: DatasetRecord) -> Dataset:
        return cls(record.id, record.name, record.created_at, record.expires_at, store)

    def download(self) -> dict[str, list[np.ndarray]]:
        return self._store.load_dataset(self.dataset_id)


@dataclass(frozen=True)
class ProfileJobResult:
    status: JobStatus
    profile: dict[str, Any] | None


@dataclass(frozen=True)
class InferenceJobResult:
    status: JobStatus
    output_data: dict[str, list[np.ndarray]] | None


@dataclass(frozen=True)
class CompileJobResult:
    status: JobStatus
    target_model: Model | None
    notes: tuple[str, ...] = ()


class Job:
    """Job for a model and a device."""

    job_type = "job"

    def __init__(self, store: Store, record: JobRecord) -> None:
        self._store = store
        self.job_id = record.id
        self.name = record.name
        self.date = record.created_at
        self.options = record.options
        self.device = Device.from_filter(record.device_filter)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(job_id={self.job_id!r}, name={self.name!r})"

    @property
    def model(self) -> Model:
        return Model._from(self._store, self._store.get_model(self._record().model_id))

    def _record(self) -> JobRecord:
        return self._store.get_job(self.job_id)

    def get_status(self) -> JobStatus:
        record = self._record()
        return JobStatus(record.state, record.message)

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the job ends (or ``timeout`` seconds pass); return its status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.get_status()
            if status.finished or (deadline is not None and time.monotonic() >= deadline):
                return status
            time.sleep(_WAIT_POLL_SEC)

    def cancel(self) -> bool:
        """Stop the job; it ends FAILED with message 'cancelled'. False if it had ended."""
        record = self._record()
        if record.finished:
            return False
        self._store.transition(self.job_id, JobState.FAILED, "cancelled by the user")
        return True

    def _finished_or_raise(self, timeout: float | None) -> JobStatus:
        status = self.wait(timeout)
        if not status.finished:
            raise UserError(f"job {self.job_id} is still {status.code.value}")
        if status.failure:
            raise UserError(f"job {self.job_id} failed: {status.message}")
        return status


class ProfileJob(Job):
    """Profile job for a model, a set of input specs, and a device."""

    job_type = "profile"

    def download_profile(self, timeout: float | None = None) -> dict[str, Any]:
        """The profile dict (``execution_summary``, ``execution_detail``, ``devicelab``).

        Waits for the job. Raises ``UserError`` naming the reason if it failed
        (what it measured before failing stays readable with ``partial_profile``).
        """
        self._finished_or_raise(timeout)
        result = self._store.get_result(self.job_id)
        if result is None:
            raise InternalError(f"job {self.job_id} succeeded without a result")
        return result

    def partial_profile(self) -> dict[str, Any] | None:
        """Whatever was measured, even for a failed or running job (devicelab extension)."""
        return self._store.get_result(self.job_id)

    def download_results(self, timeout: float | None = None) -> ProfileJobResult:
        status = self.wait(timeout)
        return ProfileJobResult(
            status, self._store.get_result(self.job_id) if status.success else None
        )


class InferenceJob(Job):
    """Inference job for a model, user provided inputs, and a device."""

    job_type = "inference"

    @property
    def inputs(self) -> Dataset:
        record = self._record()
        assert record.dataset_id is not None
        return Dataset._from(self._store, self._store.get_dataset(record.dataset_id))

    def download_output_data(self, timeout: float | None = None) -> dict[str, list[np.ndarray]]:
        """Outputs as name -> list of arrays (one per input sample)."""
        self._finished_or_raise(timeout)
        data = self._store.get_output_data(self.job_id)
        if data is None:
            raise InternalError(f"job {self.job_id} succeeded without output data")
        return data

    def download_results(self, timeout: float | None = None) -> InferenceJobResult:
        status = self.wait(timeout)
        data = self._store.get_output_data(self.job_id) if status.success else None
        return InferenceJobResult(status, data)


class CompileJob(Job):
    """Compile job for a model, a set of input specs, and a device."""

    job_type = "compile"

    def get_target_model(self, timeout: float | None = None) -> Model | None:
        """The compiled model once the job succeeded (None if it failed)."""
        status = self.wait(timeout)
        if not status.success:
            return None
        result = self._store.get_result(self.job_id) or {}
        return Model._from(self._store, self._store.get_model(result["target_model_id"]))

    def download_target_model(self, filename: str | Path | None = None) -> Path:
        """Write the compiled model to ``filename`` (default: its name, here)."""
        self._finished_or_raise(None)
        model = self.get_target_model()
        assert model is not None
        return model.download(filename or model.name)

    def download_results(self, timeout: float | None = None) -> CompileJobResult:
        status = self.wait(timeout)
        result = self._store.get_result(self.job_id) or {}
        return CompileJobResult(
            status,
            self.get_target_model(0) if status.success else None,
            tuple(result.get("notes", ())),
        )


_JOB_CLASSES: dict[str, type[Job]] = {
    "profile": ProfileJob,
    "inference": InferenceJob,
    "compile": CompileJob,
}


def job_handle(store: Store, record: JobRecord) -> Job:
    return _JOB_CLASSES[record.kind](store, record)
