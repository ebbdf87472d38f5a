"""ONNX Runtime sessions for the runtime in ``onnx_runtime.py``: ORT's log capture,
dynamic dimensions made static, and building a session for one QNN backend (or CPU).
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from agent.errors import (
    InvalidOptionError,
    RuntimeUnavailableError,
)
from agent.runtimes.base import (
    AppliedConfig,
    RunConfig,
)
from agent.runtimes.qnn_context import QnnGraphInfo
from agent.runtimes.qnn_ep import (
    HTP,
    QNN_EP_NAME,
    QnnBackend,
    backend_provider_options,
    htp_device_options,
    is_float_model,
    register_qnn_ep,
)
from agent.runtimes.qnn_ep_options import map_qnn_options
from contract.tensors import TensorInfo

_LOG = logging.getLogger(__name__)
CPU_EP = "CPUExecutionProvider"
_ORT_DTYPES = {"float": "float32", "double": "float64"}


def import_ort() -> ModuleType:
    try:
        import onnxruntime
    except ImportError as exc:
        raise RuntimeUnavailableError(f"onnxruntime is not installed: {exc}") from exc
    return onnxruntime


class OrtLogCapture:
    """Routes ORT's log to Python logging and keeps error lines per session ``logid``.

    A QNN backend that fails to initialise does not fail the session: ORT logs the
    error and quietly gives every node to the CPU EP. The log is the only place the
    reason (e.g. ``QNN_BACKEND_ERROR_CANNOT_INITIALIZE``) shows up.
    """

    def __init__(self) -> None:
        self._errors: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._installed = False

    def install(self, ort: ModuleType) -> None:
        with self._lock:
            if not self._installed and hasattr(ort, "set_default_logger_callback"):
                ort.set_default_logger_callback(self._on_message, 3)
            self._installed = True

    def new_logid(self) -> str:
        return f"devicelab-ort-{next(self._ids)}"

    def pop(self, logid: str) -> list[str]:
        with self._lock:
            return self._errors.pop(logid, [])

    def _on_message(self, severity: int, category: str, logid: str, where: str, msg: str) -> None:
        _LOG.log(logging.ERROR if severity >= 3 else logging.WARNING, "ort[%s] %s", logid, msg)
        if severity >= 3:
            with self._lock:
                self._errors.setdefault(logid, []).append(msg)


ORT_LOG = OrtLogCapture()


def tensor_specs(args: list[Any]) -> list[TensorInfo]:
    specs = []
    for arg in args:
        element = arg.type.removeprefix("tensor(").removesuffix(")")
        shape = tuple(d if isinstance(d, int) else -1 for d in arg.shape)
        specs.append(TensorInfo(arg.name, shape, _ORT_DTYPES.get(element, element)))
    return specs


def free_dimension_overrides(
    inputs: list[Any], input_shapes: dict[str, tuple[int, ...]], strict: bool
) -> dict[str, int]:
    """Values for the model's symbolic input dims, taken from ``input_shapes``.

    Args:
        inputs: ``session.get_inputs()``.
        input_shapes: the job's concrete shapes by input name.
        strict: every dynamic dim must be resolved (the QNN EP takes no dynamic node).

    Raises:
        InvalidOptionError: a shape that contradicts the model, or (``strict``) a
            dynamic dim left without a value; the message names the input and dim.
    """
    names = {arg.name for arg in inputs}
    unknown = sorted(set(input_shapes) - names)
    if unknown:
        raise InvalidOptionError(
            f"input_shapes: model has no input {unknown} (inputs: {sorted(names)})"
        )
    overrides: dict[str, int] = {}
    for arg in inputs:
        given = input_shapes.get(arg.name)
        if given is not None and len(given) != len(arg.shape):
            raise InvalidOptionError(
                f"input_shapes[{arg.name!r}]={given}: model rank is {len(arg.shape)}"
            )
        for index, dim in enumerate(arg.shape):
            _resolve_dim(arg.name, index, dim, given, strict, overrides)
    return overrides


def _resolve_dim(
    name: str,
    index: int,
    dim: int | str | None,
    given: tuple[int, ...] | None,
    strict: bool,
    overrides: dict[str, int],
) -> None:
    value = given[index] if given is not None else None
    where = f"input {name!r} dim {index}"
    if isinstance(dim, int):
        if value is not None and value != dim:
            raise InvalidOptionError(f"input_shapes: {where} is fixed at {dim}, got {value}")
    elif value is None:
        if strict:
            raise InvalidOptionError(
                f"{where} ({dim or 'unnamed'}) is dynamic; QNN needs static shapes: "
                f"give it in input_shapes"
            )
    elif not dim:
        # ORT can pin only named (dim_param) dims; nothing ORT-native reaches an unnamed one.
        if strict:
            raise InvalidOptionError(
                f"{where} is dynamic and unnamed; ORT pins only named (dim_param) dims: "
                "re-export it static or named"
            )
    elif overrides.setdefault(dim, value) != value:
        raise InvalidOptionError(f"input_shapes: dim {dim!r} given as {overrides[dim]} and {value}")


class SessionError(Exception):
    """ORT refused to create a session; carries the ORT error lines logged meanwhile."""

    def __init__(self, cause: Exception, log: list[str]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.log = log

    @property
    def model_is_broken(self) -> bool:
        return type(self.cause).__name__ in {"InvalidProtobuf", "NoSuchFile", "InvalidGraph"}

    def reason(self) -> str:
        return short_message(self.log[-1] if self.log else str(self.cause))


def short_message(message: str, limit: int = 300) -> str:
    """ORT prefixes errors with source paths and C++ signatures; keep the tail that explains."""
    message = message.strip().splitlines()[-1] if message.strip() else message
    return message if len(message) <= limit else "..." + message[-limit:]


@dataclass
class ProfileFiles:
    """Where a profiled session writes: ORT's JSON (a prefix) and QNN's CSV."""

    ort_prefix: Path
    qnn_csv: Path


@dataclass
class Opened:
    """A ready session and how it came to be."""

    session: Any
    applied: AppliedConfig
    backend: QnnBackend | None
    op_types: dict[str, str] = field(default_factory=dict)  # QNN node name -> op type
    graph: QnnGraphInfo | None = None  # a bare context binary's graph, read from its header


@dataclass
class Attempt:
    """One created session, the QNN provider options it got and ORT errors logged on the way."""

    session: Any
    options: dict[str, str]
    errors: list[str]


class SessionBuilder:
    """Creates sessions for one model and job, one QNN backend (or none) at a time."""

    def __init__(
        self, ort: ModuleType, model: Path, config: RunConfig, profile: ProfileFiles | None
    ) -> None:
        self.ort = ort
        self.model = model
        self.config = config
        self.profile = profile
        self.overrides: dict[str, int] | None = None  # known once the first session exists
        self.warnings: list[str] = []
        self._is_float: bool | None = None

    def create(self, backend: QnnBackend | None) -> Attempt:
        """Session on ``backend`` (None: CPU EP only), with dynamic dims pinned.

        The model's symbolic dims are only known from a session, so the first session
        of a model with dynamic inputs is made again with the overrides applied.
        """
        options = self.provider_options(backend) if backend else {}
        attempt = self._session(backend, options)
        if self.overrides is None:
            inputs = attempt.session.get_inputs()
            strict = backend is not None
            self.overrides = free_dimension_overrides(inputs, self.config.input_shapes, strict)
            if self.overrides:
                attempt = self._session(backend, options)
        return attempt

    def provider_options(self, backend: QnnBackend) -> dict[str, str]:
        """Everything handed to the QNN EP for ``backend``."""
        options = backend_provider_options(backend, self.config.library_dirs)
        options.update(map_qnn_options(self.config.qnn, backend).provider_options)
        if backend is HTP:
            fp16_asked = options.get("enable_htp_fp16_precision") == "1"
            device, warning = htp_device_options(self.config, fp16_asked, self._float_model())
            # The user's --qnn_options (e.g. a VTCM size) win over the device's defaults.
            options.update({key: value for key, value in device.items() if key not in options})
            if warning and warning not in self.warnings:
                self.warnings.append(warning)
        if self.profile is not None:
            options["profiling_level"] = "detailed"
            options["profiling_file_path"] = str(self.profile.qnn_csv)
        return options

    def _float_model(self) -> bool:
        if self._is_float is None:
            self._is_float = is_float_model(self.model)
        return self._is_float

    def _session(self, backend: QnnBackend | None, options: dict[str, str]) -> Attempt:
        so = self._session_options(backend, options)
        providers = None if backend else [CPU_EP]
        try:
            session = self.ort.InferenceSession(
                str(self.model), sess_options=so, providers=providers
            )
        except Exception as exc:  # ORT raises its own pybind classes, not a common base
            raise SessionError(exc, ORT_LOG.pop(so.logid)) from exc
        return Attempt(session, options, ORT_LOG.pop(so.logid))

    def _session_options(self, backend: QnnBackend | None, options: dict[str, str]) -> Any:
        so = self.ort.SessionOptions()
        so.logid = ORT_LOG.new_logid()
        so.log_severity_level = 3  # errors only: they explain a backend that took no nodes
        so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
        for name, value in (self.overrides or {}).items():
            so.add_free_dimension_override_by_name(name, value)
        if self.profile is not None:
            so.enable_profiling = True
            so.profile_file_prefix = str(self.profile.ort_prefix)
        if backend is not None:
            so.add_provider_for_devices(register_qnn_ep(self.ort), options)
        return so


def node_assignment(session: Any) -> tuple[dict[str, int], dict[str, str]]:
    """Nodes per EP, and op type by node name for the QNN EP's nodes."""
    counts: dict[str, int] = {}
    op_types: dict[str, str] = {}
    for subgraph in session.get_provider_graph_assignment_info():
        nodes = subgraph.get_nodes()
        counts[subgraph.ep_name] = counts.get(subgraph.ep_name, 0) + len(nodes)
        if subgraph.ep_name == QNN_EP_NAME:
            op_types.update({node.name: node.op_type for node in nodes})
    return counts, op_types
