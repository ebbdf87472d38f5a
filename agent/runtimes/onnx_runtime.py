"""How ONNX Runtime is run: EP selection, QNN EP options, sessions, per-layer profiling.

EP choice follows the seed: ``--onnx_execution_providers`` (``qnn`` = QNN EP on the HTP
backend, ``qnn-gpu`` = QNN EP on the GPU backend; ordered) or else ``--compute_unit``
(NPU, then GPU, then CPU). ONNX Runtime always keeps CPU fallback. One ORT session
holds one QNN EP, i.e. one QNN backend, so the first backend that takes nodes wins and
every backend skipped on the way is recorded in ``AppliedConfig.fallbacks`` with why.

Model files: ``.onnx`` (including EPContext models), and bare QNN context binaries
``.bin``, which run through an EPContext wrapper built from the binary's own metadata
(``qnn_context.py``).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from agent.errors import (
    AgentError,
    ArtifactNotFoundError,
    InvalidModelError,
    InvalidOptionError,
    MissingLibraryError,
    RuntimeUnavailableError,
)
from agent.runtimes import qnn_context
from agent.runtimes.base import (
    AppliedConfig,
    ProfiledIteration,
    RunConfig,
    RuntimeInfo,
    TensorSpec,
)
from agent.runtimes.ort_profile import profiled_layers
from agent.runtimes.qnn_ep import (
    HTP,
    QNN_CONFIG_PREFIX,
    QNN_EP_NAME,
    QnnBackend,
    available_backends,
    backend_provider_options,
    htp_device_options,
    is_float_model,
    map_qnn_options,
    qnn_versions,
    register_qnn_ep,
    requested_backends,
    usable_backends,
)

_LOG = logging.getLogger(__name__)
_CPU_EP = "CPUExecutionProvider"
_WARMUP_RUNS = 1  # profiled runs pay one-off costs (HTP power-up, arena growth) on the first run
_ORT_DTYPES = {"float": "float32", "double": "float64"}


def _import_ort() -> ModuleType:
    try:
        import onnxruntime
    except ImportError as exc:
        raise RuntimeUnavailableError(f"onnxruntime is not installed: {exc}") from exc
    return onnxruntime


class _OrtLogCapture:
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


_ORT_LOG = _OrtLogCapture()


def _tensor_specs(args: list[Any]) -> list[TensorSpec]:
    specs = []
    for arg in args:
        element = arg.type.removeprefix("tensor(").removesuffix(")")
        shape = tuple(d if isinstance(d, int) else -1 for d in arg.shape)
        specs.append(TensorSpec(arg.name, shape, _ORT_DTYPES.get(element, element)))
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


class _SessionError(Exception):
    """ORT refused to create a session; carries the ORT error lines logged meanwhile."""

    def __init__(self, cause: Exception, log: list[str]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.log = log

    @property
    def model_is_broken(self) -> bool:
        return type(self.cause).__name__ in {"InvalidProtobuf", "NoSuchFile", "InvalidGraph"}

    def reason(self) -> str:
        return _short(self.log[-1] if self.log else str(self.cause))


def _short(message: str, limit: int = 300) -> str:
    """ORT prefixes errors with source paths and C++ signatures; keep the tail that explains."""
    message = message.strip().splitlines()[-1] if message.strip() else message
    return message if len(message) <= limit else "..." + message[-limit:]


@dataclass
class _ProfileFiles:
    """Where a profiled session writes: ORT's JSON (a prefix) and QNN's CSV."""

    ort_prefix: Path
    qnn_csv: Path


@dataclass
class _Opened:
    """A ready session and how it came to be."""

    session: Any
    applied: AppliedConfig
    backend: QnnBackend | None
    op_types: dict[str, str] = field(default_factory=dict)  # QNN node name -> op type


@dataclass
class _Attempt:
    """One created session, the QNN provider options it got and ORT errors logged on the way."""

    session: Any
    options: dict[str, str]
    errors: list[str]


class _SessionBuilder:
    """Creates sessions for one model and job, one QNN backend (or none) at a time."""

    def __init__(
        self, ort: ModuleType, model: Path, config: RunConfig, profile: _ProfileFiles | None
    ) -> None:
        self.ort = ort
        self.model = model
        self.config = config
        self.profile = profile
        self.overrides: dict[str, int] | None = None  # known once the first session exists
        self.warnings: list[str] = []
        self._is_float: bool | None = None

    def create(self, backend: QnnBackend | None) -> _Attempt:
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
        options.update(map_qnn_options(self.config.qnn_options, backend).provider_options)
        if backend is HTP:
            fp16_asked = options.get("enable_htp_fp16_precision") == "1"
            device, warning = htp_device_options(self.config, fp16_asked, self._float_model())
            options.update(device)
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

    def _session(self, backend: QnnBackend | None, options: dict[str, str]) -> _Attempt:
        so = self._session_options(backend, options)
        providers = None if backend else [_CPU_EP]
        try:
            session = self.ort.InferenceSession(
                str(self.model), sess_options=so, providers=providers
            )
        except Exception as exc:  # ORT raises its own pybind classes, not a common base
            raise _SessionError(exc, _ORT_LOG.pop(so.logid)) from exc
        return _Attempt(session, options, _ORT_LOG.pop(so.logid))

    def _session_options(self, backend: QnnBackend | None, options: dict[str, str]) -> Any:
        so = self.ort.SessionOptions()
        so.logid = _ORT_LOG.new_logid()
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


def _assignment(session: Any) -> tuple[dict[str, int], dict[str, str]]:
    """Nodes per EP, and op type by node name for the QNN EP's nodes."""
    counts: dict[str, int] = {}
    op_types: dict[str, str] = {}
    for subgraph in session.get_provider_graph_assignment_info():
        nodes = subgraph.get_nodes()
        counts[subgraph.ep_name] = counts.get(subgraph.ep_name, 0) + len(nodes)
        if subgraph.ep_name == QNN_EP_NAME:
            op_types.update({node.name: node.op_type for node in nodes})
    return counts, op_types


def _check_model_file(path: Path) -> None:
    if not path.is_file():
        raise ArtifactNotFoundError(f"model file not found: {path}")
    if path.suffix not in OnnxRuntime.suffixes:
        raise InvalidModelError(
            f"{path}: onnxruntime loads {OnnxRuntime.suffixes}, not {path.suffix!r}"
        )


class OrtLoadedModel:
    """A ready ONNX Runtime session; ``run()`` is one ``run_with_iobinding`` call.

    Inputs are bound once in ``set_inputs`` (IOBinding): measured on the tiny CNN, that
    is ~1.5 us per run cheaper than ``session.run`` with a feed dict (17.0 vs 18.5 us).
    """

    def __init__(self, session: Any, applied: AppliedConfig) -> None:
        self.applied = applied
        self.inputs = _tensor_specs(session.get_inputs())
        self.outputs = _tensor_specs(session.get_outputs())
        self._session = session
        self._binding = session.io_binding()
        self._bound: dict[str, np.ndarray] = {}  # keeps the bound host buffers alive

    def set_inputs(self, feeds: dict[str, np.ndarray]) -> None:
        """Bind input values for the following ``run()`` calls."""
        expected = {spec.name for spec in self.inputs}
        if set(feeds) != expected:
            raise AgentError(f"inputs {sorted(feeds)} do not match the model's {sorted(expected)}")
        binding = self._session.io_binding()
        bound = {name: np.ascontiguousarray(value) for name, value in feeds.items()}
        for name, value in bound.items():
            binding.bind_cpu_input(name, value)
        for spec in self.outputs:
            binding.bind_output(spec.name)
        self._binding, self._bound = binding, bound

    def run(self) -> None:
        """One inference on the bound inputs."""
        self._session.run_with_iobinding(self._binding)

    def get_outputs(self) -> dict[str, np.ndarray]:
        """Outputs of the last ``run()``."""
        values = self._binding.copy_outputs_to_cpu()
        return {spec.name: value for spec, value in zip(self.outputs, values, strict=True)}

    def output_quantization(self) -> dict[str, tuple[float, int]]:
        """Unknown here: QDQ models dequantize inside the graph; a bare context
        binary's quantization parameters are not read yet (see qnn_context.py)."""
        return {}

    def close(self) -> None:
        """Release the session (and with it the QNN context)."""
        self._binding = None
        self._bound = {}
        self._session = None


class OnnxRuntime:
    """ONNX Runtime with the CPU EP and, through onnxruntime-qnn, the QNN EP (HTP, GPU)."""

    name: str = "onnxruntime"
    suffixes: tuple[str, ...] = (".onnx", ".bin")

    def __init__(self, library_dirs: Sequence[str] = ()) -> None:
        """``library_dirs``: extra places for QNN backend libraries, before the package's."""
        self.library_dirs = tuple(library_dirs)

    def info(self) -> RuntimeInfo:
        """Version, EPs (QNN registered if installed) and QNN backend libraries found."""
        try:
            ort = _import_ort()
        except RuntimeUnavailableError as exc:
            return RuntimeInfo(self.name, "", False, detail=str(exc))
        detail = ""
        try:
            register_qnn_ep(ort)
        except MissingLibraryError as exc:
            detail = str(exc)
        backends = available_backends(self.library_dirs)
        found = ", ".join(b.library for b in backends) or "none"
        return RuntimeInfo(
            self.name,
            ort.__version__,
            True,
            accelerators=tuple(ort.get_available_providers()),
            backends=tuple(b.key for b in backends),
            detail=detail or f"QNN backend libraries: {found}",
        )

    def load(self, model_path: Path, config: RunConfig) -> OrtLoadedModel:
        """Create the session for ``model_path`` as ``config`` asks; see the module docstring.

        Raises:
            InvalidModelError: not loadable (corrupt, unsupported, a bad context binary).
            InvalidOptionError: an option this runtime cannot apply, or a dynamic input
                dim without a shape while QNN is requested.
            MissingLibraryError: a context binary's QNN backend (or libQnnSystem.so) is absent.
            RuntimeUnavailableError: onnxruntime is not installed.
        """
        opened = self._open(Path(model_path), config)
        return OrtLoadedModel(opened.session, opened.applied)

    def profile_layers(
        self, model_path: Path, config: RunConfig, feeds: dict[str, np.ndarray], iterations: int
    ) -> list[ProfiledIteration]:
        """Per-layer timings of ``iterations`` runs of a separate, profiled session.

        CPU nodes come from ORT's profiler; QNN ops from QNN's ``detailed`` profiling CSV
        (with cycles), spliced in where ORT shows the fused QNN node. One warm-up run is
        made first and left out.
        """
        if iterations <= 0:
            return []
        config.workdir.mkdir(parents=True, exist_ok=True)
        files = _ProfileFiles(config.workdir / "ort_profile", config.workdir / "qnn_profile.csv")
        files.qnn_csv.unlink(missing_ok=True)  # QNN appends to an existing file
        opened = self._open(Path(model_path), config, files)
        model = OrtLoadedModel(opened.session, opened.applied)
        try:
            model.set_inputs(feeds)
            for _ in range(_WARMUP_RUNS + iterations):
                model.run()
            profile_json = Path(opened.session.end_profiling())
        finally:
            model.close()
        layers = profiled_layers(profile_json, files.qnn_csv, opened.backend, opened.op_types)
        return layers[-iterations:]

    def _open(self, path: Path, config: RunConfig, profile: _ProfileFiles | None = None) -> _Opened:
        ort = _import_ort()
        _ORT_LOG.install(ort)
        _check_model_file(path)
        if self.library_dirs:
            config = replace(config, library_dirs=(*config.library_dirs, *self.library_dirs))
        config.workdir.mkdir(parents=True, exist_ok=True)
        # Reject bad sub-options before any work; warnings come later, per backend.
        enable_graphs = map_qnn_options(config.qnn_options, None).enable_graphs
        requested = requested_backends(config)
        usable, fallbacks = usable_backends(ort, requested, config.library_dirs)
        model, cpu_allowed = path, True
        if path.suffix == ".bin":
            model, bin_backend = qnn_context.wrap_context_binary(
                path, config.library_dirs, config.workdir, enable_graphs, (requested, usable)
            )
            usable, cpu_allowed = [bin_backend], False  # an EPContext node has no CPU kernel
        builder = _SessionBuilder(ort, model, config, profile)
        attempt, backend = _first_working(builder, usable, fallbacks, cpu_allowed, path)
        return _opened(ort, attempt, backend, fallbacks, builder, path)


def _first_working(
    builder: _SessionBuilder,
    backends: list[QnnBackend],
    fallbacks: list[str],
    cpu_allowed: bool,
    path: Path,
) -> tuple[_Attempt, QnnBackend | None]:
    """First backend whose QNN EP takes nodes; else the CPU EP alone (if allowed)."""
    for backend in backends:
        try:
            attempt = builder.create(backend)
        except _SessionError as exc:
            if exc.model_is_broken:
                raise InvalidModelError(f"{path}: {exc.reason()}") from exc.cause
            fallbacks.append(f"{backend.ep_option}: {backend.library}: {exc.reason()}")
            continue
        if _assignment(attempt.session)[0].get(QNN_EP_NAME):
            return attempt, backend
        why = _short(attempt.errors[0]) if attempt.errors else "it supports none of the nodes"
        fallbacks.append(f"{backend.ep_option}: {backend.library} took no nodes: {why}")
    if not cpu_allowed:
        raise InvalidModelError(f"{path}: QNN could not load the context binary: {fallbacks}")
    try:
        return builder.create(None), None
    except _SessionError as exc:
        detail = "; ".join([exc.reason(), *fallbacks])
        raise InvalidModelError(f"{path}: ONNX Runtime cannot load it: {detail}") from exc.cause


def _opened(
    ort: ModuleType,
    attempt: _Attempt,
    backend: QnnBackend | None,
    fallbacks: list[str],
    builder: _SessionBuilder,
    path: Path,
) -> _Opened:
    counts, op_types = _assignment(attempt.session)
    plan = map_qnn_options(builder.config.qnn_options, backend)
    warnings = [*plan.warnings, *builder.warnings]
    if plan.enable_graphs and path.suffix != ".bin":
        warnings.append("qnn_options context_enable_graphs not applied: the model is not a .bin")
    settings = _settings(attempt, backend, counts, builder.overrides or {})
    settings.update({f"qnn_options.{key}": value for key, value in plan.settings.items()})
    in_use = [ep for ep in (QNN_EP_NAME, _CPU_EP) if counts.get(ep)]
    in_use += [ep for ep in counts if ep not in in_use]
    applied = AppliedConfig("onnxruntime", ort.__version__, in_use, fallbacks, warnings, settings)
    return _Opened(attempt.session, applied, backend, op_types)


def _settings(
    attempt: _Attempt, backend: QnnBackend | None, counts: dict[str, int], overrides: dict[str, int]
) -> dict[str, str]:
    """What the session really holds: QNN options are read back from its config."""
    held = attempt.session.get_session_options()
    settings = {"qnn_backend": backend.key if backend else "none"}
    for key, value in attempt.options.items():
        try:
            settings[f"qnn.{key}"] = held.get_session_config_entry(QNN_CONFIG_PREFIX + key)
        except RuntimeError:
            settings[f"qnn.{key}"] = f"{value} (missing from the session config)"
    if overrides:
        settings["free_dimension_overrides"] = ",".join(f"{k}={v}" for k, v in overrides.items())
    settings.update({f"nodes.{ep}": str(count) for ep, count in counts.items()})
    if backend is not None:
        settings.update(qnn_versions())
    return settings
