"""How ONNX Runtime is run: EP selection, QNN EP options, sessions, per-layer profiling.

EP choice follows the documented options (``OPTIONS.md``): ``--onnx_execution_providers``
(``qnn`` = QNN EP on the HTP backend, ``qnn-gpu`` = QNN EP on the GPU backend; ordered)
or else ``--compute_unit`` (NPU, then GPU, then CPU). ONNX Runtime always keeps CPU
fallback. One ORT session holds one QNN EP, i.e. one QNN backend, so the first backend
that takes nodes wins and every backend skipped on the way is recorded in
``AppliedConfig.fallbacks`` with why.

Model types: ``onnx`` (including EPContext models), and bare QNN context binaries
(``qnn_context_binary``, ``.bin``), which run through an EPContext wrapper built from
the binary's own metadata (``qnn_context.py``), read once per load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from agent.errors import (
    AgentError,
    ArtifactNotFoundError,
    InvalidModelError,
    MissingLibraryError,
    RuntimeUnavailableError,
)
from agent.runtimes import qnn_context
from agent.runtimes.base import (
    AppliedConfig,
    ProfiledIteration,
    RunConfig,
    RuntimeInfo,
)
from agent.runtimes.ort_profile import profiled_layers
from agent.runtimes.ort_session import (
    CPU_EP,
    ORT_LOG,
    Attempt,
    Opened,
    ProfileFiles,
    SessionBuilder,
    SessionError,
    import_ort,
    node_assignment,
    short_message,
    tensor_specs,
)
from agent.runtimes.qnn_ep import (
    QNN_CONFIG_PREFIX,
    QNN_EP_NAME,
    QnnBackend,
    available_backends,
    qnn_versions,
    register_qnn_ep,
    requested_backends,
    usable_backends,
)
from agent.runtimes.qnn_ep_options import map_qnn_options
from contract.formats import types_of_runtime

_WARMUP_RUNS = 1  # profiled runs pay one-off costs (HTP power-up, arena growth) on the first run


_CONTEXT_BINARY = "qnn_context_binary"


def _check_model_file(path: Path, model_type: str) -> None:
    if not path.is_file():
        raise ArtifactNotFoundError(f"model file not found: {path}")
    if model_type not in OnnxRuntime.model_types:
        raise InvalidModelError(
            f"{path}: onnxruntime loads {OnnxRuntime.model_types}, "
            f"not {model_type or path.suffix!r}"
        )


class OrtLoadedModel:
    """A ready ONNX Runtime session; ``run()`` is one ``run_with_iobinding`` call.

    Inputs are bound once in ``set_inputs`` (IOBinding): measured on the tiny CNN, that
    is ~1.5 us per run cheaper than ``session.run`` with a feed dict (17.0 vs 18.5 us).
    """

    def __init__(
        self,
        session: Any,
        applied: AppliedConfig,
        quantization: dict[str, tuple[float, int]] | None = None,
    ) -> None:
        self.applied = applied
        self._quantization = quantization or {}
        self.inputs = tensor_specs(session.get_inputs())
        self.outputs = tensor_specs(session.get_outputs())
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
        """A bare context binary's quantized outputs, read from the binary; {} otherwise:
        a QDQ model's quantized outputs (``--quantize_io``) come from the host, which
        reads the graph (``RunConfig.output_quantization``)."""
        return dict(self._quantization)

    def close(self) -> None:
        """Release the session (and with it the QNN context)."""
        self._binding = None
        self._bound = {}
        self._session = None


class OnnxRuntime:
    """ONNX Runtime with the CPU EP and, through onnxruntime-qnn, the QNN EP (HTP, GPU)."""

    name: str = "onnxruntime"
    model_types: tuple[str, ...] = types_of_runtime("onnxruntime")  # contract/formats.py

    def __init__(self, library_dirs: Sequence[str] = ()) -> None:
        """``library_dirs``: extra places for QNN backend libraries, before the package's."""
        self.library_dirs = tuple(library_dirs)

    def info(self) -> RuntimeInfo:
        """Version, EPs (QNN registered if installed) and QNN backend libraries found."""
        try:
            ort = import_ort()
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

    def prepare(self) -> None:
        """Import onnxruntime (no session, no QNN EP registration: those are the load's)."""
        import_ort()

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
        # A bare binary's outputs stay quantized: keep how to undo it (from the header
        # the load already read).
        quantization = qnn_context.output_quantization(opened.graph) if opened.graph else {}
        return OrtLoadedModel(opened.session, opened.applied, quantization)

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
        files = ProfileFiles(config.workdir / "ort_profile", config.workdir / "qnn_profile.csv")
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

    def _open(self, path: Path, config: RunConfig, profile: ProfileFiles | None = None) -> Opened:
        ort = import_ort()
        ORT_LOG.install(ort)
        model_type = config.model_type_of(path)
        _check_model_file(path, model_type)
        if self.library_dirs:
            config = replace(config, library_dirs=(*config.library_dirs, *self.library_dirs))
        config.workdir.mkdir(parents=True, exist_ok=True)
        # Warnings come later, per backend; here only which graphs a .bin runs.
        enable_graphs = map_qnn_options(config.qnn, None).enable_graphs
        requested = requested_backends(config)
        usable, fallbacks = usable_backends(ort, requested, config.library_dirs)
        model, cpu_allowed, graph = path, True, None
        if model_type == _CONTEXT_BINARY:
            model, bin_backend, graph = qnn_context.wrap_context_binary(
                path, config.library_dirs, config.workdir, enable_graphs, (requested, usable)
            )
            usable, cpu_allowed = [bin_backend], False  # an EPContext node has no CPU kernel
        builder = SessionBuilder(ort, model, config, profile)
        attempt, backend = _first_working(builder, usable, fallbacks, cpu_allowed, path)
        opened = _opened(ort, attempt, backend, fallbacks, builder, graph is not None)
        opened.graph = graph
        return opened


def _first_working(
    builder: SessionBuilder,
    backends: list[QnnBackend],
    fallbacks: list[str],
    cpu_allowed: bool,
    path: Path,
) -> tuple[Attempt, QnnBackend | None]:
    """First backend whose QNN EP takes nodes; else the CPU EP alone (if allowed)."""
    for backend in backends:
        try:
            attempt = builder.create(backend)
        except SessionError as exc:
            if exc.model_is_broken:
                raise InvalidModelError(f"{path}: {exc.reason()}") from exc.cause
            fallbacks.append(f"{backend.ep_option}: {backend.library}: {exc.reason()}")
            continue
        if node_assignment(attempt.session)[0].get(QNN_EP_NAME):
            return attempt, backend
        why = (
            short_message(attempt.errors[0]) if attempt.errors else "it supports none of the nodes"
        )
        fallbacks.append(f"{backend.ep_option}: {backend.library} took no nodes: {why}")
    if not cpu_allowed:
        raise InvalidModelError(f"{path}: QNN could not load the context binary: {fallbacks}")
    try:
        return builder.create(None), None
    except SessionError as exc:
        detail = "; ".join([exc.reason(), *fallbacks])
        raise InvalidModelError(f"{path}: ONNX Runtime cannot load it: {detail}") from exc.cause


def _opened(
    ort: ModuleType,
    attempt: Attempt,
    backend: QnnBackend | None,
    fallbacks: list[str],
    builder: SessionBuilder,
    context_binary: bool,
) -> Opened:
    counts, op_types = node_assignment(attempt.session)
    plan = map_qnn_options(builder.config.qnn, backend)
    warnings = [*plan.warnings, *builder.warnings]
    if plan.enable_graphs and not context_binary:
        warnings.append("qnn_options context_enable_graphs not applied: the model is not a .bin")
    settings = _settings(attempt, backend, counts, builder.overrides or {})
    settings.update({f"qnn_options.{key}": value for key, value in plan.settings.items()})
    in_use = [ep for ep in (QNN_EP_NAME, CPU_EP) if counts.get(ep)]
    in_use += [ep for ep in counts if ep not in in_use]
    applied = AppliedConfig("onnxruntime", ort.__version__, in_use, fallbacks, warnings, settings)
    return Opened(attempt.session, applied, backend, op_types)


def _settings(
    attempt: Attempt, backend: QnnBackend | None, counts: dict[str, int], overrides: dict[str, int]
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
