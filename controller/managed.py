"""Managed objects the API returns (the cloud service's "Managed objects"): models and datasets.

They are handles over the store, so any process sharing the store sees the
same objects. Users get them from the API (``upload_model``, ``get_dataset``...),
never by constructing them. The job handles live in ``controller.job_handles``
and are re-exported here for the modules that import them from this one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from contract.formats import FORMATS, suffix_of_type
from contract.tensors import TensorInfo
from controller.errors import UserError
from controller.h5_data import output_path, read_h5, unique_path, with_suffix, write_h5
from controller.model_io import stored_model_io
from controller.specs import IOSpec, io_spec
from controller.store import DatasetRecord, ModelRecord, Store

if TYPE_CHECKING:
    from controller.job_handles import Job


class SourceModelType(enum.Enum):
    """Model types; the cloud client's members.

    The values are devicelab's names for a format (the target runtime that runs
    it, where devicelab runs it). Uploading a type devicelab cannot run or
    convert raises ``UserError`` naming the accepted ones.
    """

    TORCHSCRIPT = "torchscript"
    MLMODEL = "mlmodel"
    TFLITE = "tflite"
    MLMODELC = "mlmodelc"
    ONNX = "onnx"
    AIMET_ONNX = "aimet_onnx"
    MLPACKAGE = "mlpackage"
    TETRART = "tetrart"
    QNN_LIB_AARCH64_ANDROID = "qnn_lib_aarch64_android"
    QNN_CONTEXT_BINARY = "qnn_context_binary"
    QNN_LIB_X86_64_LINUX = "qnn_lib_x86_64_linux"
    QNN_DLC = "qnn_dlc"
    TORCH_EXPORTED_PROGRAM = "torch_exported_program"
    UNRECOGNIZED_MODEL_TYPE = "unrecognized"


class ModelMetadataKey(enum.Enum):
    """Keys of ``Model.metadata``; members and values as in the cloud client 0.56."""

    UNSPECIFIED = 0
    QNN_SDK_VERSION = 1
    QNN_SDK_VARIANT = 2
    QAIRT_SDK_VERSION = 3
    QNN_MODEL_GRAPH_NAMES = 30
    QNN_CONTEXT_BIN_GRAPH_NAMES = 30  # the client's alias of QNN_MODEL_GRAPH_NAMES
    QNN_CONTEXT_BIN_HEXAGON_VERSION = 31
    QNN_CONTEXT_BIN_SOC_MODEL = 32
    QNN_CONTEXT_BIN_BACKEND = 33
    QNN_CONTEXT_BIN_VTCM = 34
    QNN_CONTEXT_BIN_OPTIMIZATION_LEVEL = 35


#: Model types devicelab stores and runs (others are converted at upload or refused).
RUNNABLE_MODEL_TYPES = frozenset(SourceModelType(fmt.model_type) for fmt in FORMATS if fmt.runnable)


def model_type_of(value: str) -> SourceModelType:
    """The ``SourceModelType`` of a stored model type string."""
    try:
        return SourceModelType(value)
    except ValueError:
        return SourceModelType.UNRECOGNIZED_MODEL_TYPE


def qnn_metadata(details: dict[str, Any]) -> dict[ModelMetadataKey, str]:
    """``Model.metadata`` from a compile result's ``details`` (``controller/compile``)."""
    qnn = details.get("qnn")
    if not qnn:
        return {}
    sdk = (details.get("versions") or {}).get("qnn_sdk", "")
    graphs = ",".join(g.get("name", "") for g in qnn.get("graphs", []))
    facts = {
        ModelMetadataKey.QAIRT_SDK_VERSION: sdk,
        ModelMetadataKey.QNN_CONTEXT_BIN_GRAPH_NAMES: graphs,
        ModelMetadataKey.QNN_CONTEXT_BIN_HEXAGON_VERSION: str(qnn.get("htp_arch") or ""),
        ModelMetadataKey.QNN_CONTEXT_BIN_SOC_MODEL: str(qnn.get("soc_model") or ""),
        ModelMetadataKey.QNN_CONTEXT_BIN_BACKEND: "HTP",
        ModelMetadataKey.QNN_CONTEXT_BIN_VTCM: str(qnn.get("vtcm_mb") or ""),
        ModelMetadataKey.QNN_CONTEXT_BIN_OPTIMIZATION_LEVEL: str(
            qnn.get("optimization_level") or ""
        ),
    }
    return {key: value for key, value in facts.items() if value}


def read_io(store: Store, model_id: str) -> tuple[list[TensorInfo], list[TensorInfo]] | None:
    """The model's inputs and outputs, read from the stored file by its stored type."""
    record = store.get_model(model_id)
    return stored_model_io(store.artifact_path(record.sha256), record.model_type)


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
            model_type_of(record.model_type),
            record.created_at,
            record.sha256,
            store,
        )

    @property
    def url(self) -> str:
        """A ``file://`` URL of the model's stored bytes."""
        return self._store.artifact_path(self.sha256).resolve().as_uri()

    @property
    def input_spec(self) -> IOSpec:
        """The model's inputs: {None: [TensorSpec(name, dtype, shape), ...]}."""
        return self._io(0)

    @property
    def output_spec(self) -> IOSpec:
        """The model's outputs: {None: [TensorSpec(name, dtype, shape), ...]}."""
        return self._io(1)

    def _io(self, which: int) -> IOSpec:
        io = read_io(self._store, self.model_id)
        return {} if io is None else io_spec(io[which])

    @property
    def producer(self) -> Job | None:
        """The job that produced this model (a compile job), or None if it was uploaded."""
        return self.get_producer()

    def get_producer(self) -> Job | None:
        """The job that produced this model, or None if it was uploaded."""
        from controller.job_handles import job_handle

        job_id = self._store.get_model(self.model_id).metadata.get("compiled_by")
        return None if job_id is None else job_handle(self._store, self._store.get_job(job_id))

    @property
    def metadata(self) -> dict[ModelMetadataKey, str]:
        """What the compile job recorded about a QNN context binary it produced (the QNN
        SDK it was built with, graph names, SoC, VTCM...); {} for other models."""
        job = self.get_producer()
        result = None if job is None else self._store.get_result(job.job_id)
        return {} if not result else qnn_metadata(result.get("details") or {})

    def wait(self, timeout: int | None = None) -> bool:
        """True: a stored model is always ready (the client waits for a producing job)."""
        return True

    def download(self, filename: str | Path, timeout: int | None = None) -> str:
        """Write the model to ``filename`` (a directory: the model's name in it); return the path.

        The model's extension is added when ``filename`` lacks it, as the client does.
        """
        target = Path(filename)
        suffix = (
            suffix_of_type(self.model_type.value) if self.model_type in RUNNABLE_MODEL_TYPES else ""
        )
        if target.is_dir():
            target = unique_path(target / with_suffix(Path(self.name).name, suffix))
        elif suffix:
            target = with_suffix(target, suffix)
        target.write_bytes(self._store.artifact_path(self.sha256).read_bytes())
        return str(target)


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

    @overload
    def download(self, filename: None = None) -> dict[str, list[np.ndarray]]: ...
    @overload
    def download(self, filename: str | Path) -> str: ...

    def download(self, filename: str | Path | None = None) -> dict[str, list[np.ndarray]] | str:
        """The entries in memory, or written to ``filename`` (``.h5``; returns the path).

        Raises:
            UserError: the dataset expired.
        """
        data = self._store.load_dataset(self.dataset_id)
        if filename is None:
            return data
        target = output_path(filename, f"{self.name or self.dataset_id}.h5", ".h5")
        write_h5(data, target)
        return str(target)

    def is_expired(self) -> bool:
        """True once the dataset's 30 days are over."""
        return datetime.now(UTC) > self.expiration_time

    def get_expiration_status(self) -> str:
        """ "Expired" or "Not Expired", as the client says it."""
        return "Expired" if self.is_expired() else "Not Expired"


def dataset_entries(data: Dataset | dict[str, Any] | str | Path) -> dict[str, list[np.ndarray]]:
    """Entries from a Dataset, a mapping (a bare array counts as one sample) or an ``.h5`` path."""
    if isinstance(data, Dataset):
        return data.download()
    if isinstance(data, str | Path):
        path = Path(data)
        if path.suffix.lower() != ".h5":
            raise UserError(f"{path}: a dataset file must be an .h5 file")
        if not path.is_file():
            raise UserError(f"{path}: dataset file not found")
        return read_h5(path)
    if not isinstance(data, Mapping):
        # A bare array or a list of arrays names no input: dict() would raise a ValueError.
        raise UserError(
            "inputs must map input names to lists of arrays, e.g. {'image': [array]}; "
            f"got a {type(data).__name__}"
        )
    # The client accepts one array for a one-sample input.
    return {k: v if isinstance(v, list) else [v] for k, v in dict(data).items()}


def __getattr__(name: str) -> Any:
    # Job handles moved to controller.job_handles; old imports keep working.
    import controller.job_handles as job_handles

    if name in job_handles.__all__:
        return getattr(job_handles, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
