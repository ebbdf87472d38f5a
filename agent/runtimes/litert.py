"""How a ``.tflite`` model is run: LiteRT's Interpreter plus TFLite delegates.

Loading follows the documented ``--compute_unit``, ``--tflite_delegates`` and
``--tflite_options``:

* Delegates come from ``tflite_delegates`` in the order given, or, when that is
  empty, from ``compute_units`` (npu -> qnn; gpu -> gpu, qnn-gpu; cpu ->
  xnnpack; all -> NPU, then GPU, then CPU). TFLite always keeps a CPU fallback.
* External delegates are loaded with ``load_delegate(library, options)``; the
  option strings come from ``litert_delegates.DELEGATE_KEYS`` applied to the
  shared sub-option table (``contract.option_tables``).
* A delegate whose library is missing, or that fails to prepare (or to run,
  with ``invoke_interpreter_on_cold_load``), is dropped and recorded in
  ``AppliedConfig.fallbacks`` while ``enable_fallback`` is true; otherwise the
  load fails naming the delegate and why.
* XNNPACK on is the default op resolver; off is
  ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (an explicit delegate list without
  ``xnnpack``).

Per-layer timings come from a separate, profiled load through LiteRT's C API
(``litert_c_api``), so the timed loop never pays for profiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from agent.errors import (
    AgentError,
    DelegateError,
    InvalidModelError,
    InvalidOptionError,
    MissingLibraryError,
    RuntimeUnavailableError,
)
from agent.runtimes.base import (
    COMPUTE_UNIT_CHOICES,
    AppliedConfig,
    ProfiledIteration,
    RunConfig,
    RuntimeInfo,
)
from agent.runtimes.libraries import Policy, find_in, search_dirs
from agent.runtimes.litert_c_api import (
    EVENT_DELEGATE_PROFILED_OPERATOR_INVOKE,
    EVENT_OPERATOR_INVOKE,
    ProfiledCompiledModel,
    ProfilerEvent,
)
from agent.runtimes.litert_delegates import (
    DELEGATE_NAMES,
    LIBRARIES,
    DelegateSpec,
    GeneralOptions,
    delegate_options,
    general_settings,
    no_equivalent_warnings,
    resolve_threads,
    unused_option_warnings,
)
from contract.formats import types_of_runtime
from contract.layers import LayerTiming
from contract.option_spec import SubValue
from contract.tensors import TensorInfo

_FLATBUFFER_IDENTIFIER = b"TFL3"
# The units "all" stands for, in priority order.
_UNITS_BY_PRIORITY = tuple(unit for unit in COMPUTE_UNIT_CHOICES if unit != "all")
_UNIT_DELEGATES = {"npu": ("qnn",), "gpu": ("gpu", "qnn-gpu"), "cpu": ()}
# What the Python API raises when a delegate or model cannot be loaded or run.
_LOAD_ERRORS = (ValueError, RuntimeError, OSError, AttributeError)
# Events that are one op each: builtin-kernel nodes and XNNPACK operators. The
# rest are LiteRT wrappers ("Invoke", "LiteRT::Run[...]") and telemetry, and
# delegate-internal events would double-count the delegate node around them.
_OP_EVENT_TYPES = (EVENT_OPERATOR_INVOKE, EVENT_DELEGATE_PROFILED_OPERATOR_INVOKE)


@dataclass(frozen=True)
class DelegatePlan:
    """External delegates to try, in priority order, and whether XNNPACK is on."""

    delegates: tuple[str, ...]
    xnnpack: bool


def plan_delegates(config: RunConfig) -> DelegatePlan:
    """Which delegates a job asks for (see the module docstring).

    Raises:
        InvalidOptionError: An unknown delegate or compute unit.
    """
    if config.tflite_delegates:
        names = tuple(dict.fromkeys(name.lower() for name in config.tflite_delegates))
        unknown = [name for name in names if name not in DELEGATE_NAMES]
        if unknown:
            raise InvalidOptionError(f"unknown --tflite_delegates value(s): {', '.join(unknown)}")
        return DelegatePlan(tuple(n for n in names if n != "xnnpack"), "xnnpack" in names)
    units = {unit.lower() for unit in config.compute_units} or {"all"}
    unknown = sorted(units - set(COMPUTE_UNIT_CHOICES))
    if unknown:
        raise InvalidOptionError(f"unknown --compute_unit value(s): {', '.join(unknown)}")
    if "all" in units:
        units = set(_UNITS_BY_PRIORITY)
    delegates = tuple(
        d for unit in _UNITS_BY_PRIORITY if unit in units for d in _UNIT_DELEGATES[unit]
    )
    # The CPU fallback TFLite always keeps runs on XNNPACK unless a delegate list says otherwise.
    return DelegatePlan(delegates, xnnpack=True)


def check_model_file(model_path: Path) -> None:
    """Fail early, naming the file, when it cannot be a TFLite flatbuffer.

    Raises:
        InvalidModelError: Unreadable, or without the ``TFL3`` identifier.
    """
    try:
        with model_path.open("rb") as handle:
            header = handle.read(8)
    except OSError as exc:
        raise InvalidModelError(f"cannot read model {model_path}: {exc}") from exc
    if header[4:8] != _FLATBUFFER_IDENTIFIER:
        raise InvalidModelError(f"{model_path} is not a TFLite model (no TFL3 identifier)")


def _interpreter_module() -> tuple[ModuleType, str, str]:
    """(interpreter module, runtime name, version): LiteRT, else tflite_runtime."""
    try:
        import ai_edge_litert
        from ai_edge_litert import interpreter
    except ImportError:
        pass
    else:
        return interpreter, "litert", str(ai_edge_litert.__version__)
    try:
        import tflite_runtime
        from tflite_runtime import interpreter as tflite_interpreter
    except ImportError as exc:
        raise RuntimeUnavailableError(
            "neither ai-edge-litert nor tflite-runtime is installed"
        ) from exc
    return tflite_interpreter, "tflite_runtime", str(tflite_runtime.__version__)


@dataclass
class _Built:
    interpreter: Any
    delegates: list[DelegateSpec]
    fallbacks: list[str]


class _InterpreterBuilder:
    """Builds interpreters for one model and finds which delegates are to blame."""

    def __init__(
        self,
        module: ModuleType,
        model_path: Path,
        plan: DelegatePlan,
        threads: int,
        general: GeneralOptions,
        config: RunConfig,
    ) -> None:
        self._module = module
        self._path = model_path
        self._threads = threads
        resolvers = module.OpResolverType
        self._resolver = (
            resolvers.AUTO if plan.xnnpack else resolvers.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        self._input_shapes = config.input_shapes
        self._enable_fallback = general.enable_fallback

    def build(self, specs: list[DelegateSpec]) -> Any:
        """A ready interpreter: delegates applied, inputs resized, tensors allocated."""
        # Fresh delegate objects each time: some delegates serve one interpreter only.
        delegates = [self._module.load_delegate(str(spec.path), spec.options) for spec in specs]
        interpreter = self._module.Interpreter(
            model_path=str(self._path),
            experimental_delegates=delegates or None,
            num_threads=self._threads,
            experimental_op_resolver_type=self._resolver,
        )
        self._resize_inputs(interpreter)
        interpreter.allocate_tensors()
        return interpreter

    def _resize_inputs(self, interpreter: Any) -> None:
        """Apply the job's input shapes (makes dynamic dims concrete)."""
        for detail in interpreter.get_input_details():
            shape = self._input_shapes.get(detail["name"])
            if shape is None or tuple(shape) == tuple(detail["shape"]):
                continue
            if len(shape) != len(detail["shape"]):
                rank = len(detail["shape"])
                raise InvalidOptionError(f"input shape {detail['name']}={list(shape)}: rank {rank}")
            try:
                interpreter.resize_tensor_input(detail["index"], list(shape), strict=False)
            except ValueError as exc:  # a user error, not a delegate or model failure
                raise InvalidOptionError(
                    f"input shape {detail['name']}={list(shape)}: {exc}"
                ) from exc

    def build_with_fallback(self, specs: list[DelegateSpec]) -> _Built:
        """Build with ``specs``; on failure, find and drop the delegates that fail."""
        try:
            return _Built(self.build(specs), list(specs), [])
        except _LOAD_ERRORS as exc:
            if not specs:
                raise InvalidModelError(f"LiteRT cannot load model {self._path}: {exc}") from exc
        self._require_model_loads()
        kept: list[DelegateSpec] = []
        fallbacks: list[str] = []
        for spec in specs:
            try:
                self.build([*kept, spec])
            except _LOAD_ERRORS as exc:
                fallbacks.append(self._drop(spec, "failed to prepare", exc))
                continue
            kept.append(spec)
        return _Built(self._final(kept), kept, fallbacks)

    def validate_by_invoke(self, built: _Built) -> _Built:
        """``invoke_interpreter_on_cold_load``: run once; drop delegates that fail to run."""
        try:
            built.interpreter.invoke()
            return built
        except _LOAD_ERRORS as exc:
            if not built.delegates:
                raise AgentError(f"model {self._path} fails to run on the CPU: {exc}") from exc
        kept: list[DelegateSpec] = []
        fallbacks = list(built.fallbacks)
        for spec in built.delegates:
            try:
                self.build([spec]).invoke()
            except _LOAD_ERRORS as exc:
                fallbacks.append(self._drop(spec, "failed to run on cold load", exc))
                continue
            kept.append(spec)
        interpreter = self._final(kept)
        try:
            interpreter.invoke()
        except _LOAD_ERRORS as exc:
            names = ", ".join(spec.name for spec in kept) or "cpu"
            raise AgentError(f"model {self._path} fails to run with {names}: {exc}") from exc
        return _Built(interpreter, kept, fallbacks)

    def _require_model_loads(self) -> None:
        try:
            self.build([])
        except _LOAD_ERRORS as exc:
            raise InvalidModelError(f"LiteRT cannot load model {self._path}: {exc}") from exc

    def _final(self, kept: list[DelegateSpec]) -> Any:
        try:
            return self.build(kept)
        except _LOAD_ERRORS as exc:
            names = ", ".join(spec.name for spec in kept)
            raise AgentError(f"delegates {names} fail together on {self._path}: {exc}") from exc

    def _drop(self, spec: DelegateSpec, what: str, exc: BaseException) -> str:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if not self._enable_fallback:
            raise DelegateError(
                f"delegate {spec.name} ({spec.path.name}) {what}: {reason} (enable_fallback=false)"
            ) from exc
        return f"{spec.name}: {what}: {reason}"


class LiteRtModel:
    """A loaded ``.tflite`` model; ``run()`` is the timed hot path."""

    def __init__(self, interpreter: Any, applied: AppliedConfig) -> None:
        self._interpreter = interpreter
        self.applied = applied
        self._refresh_details()

    def _refresh_details(self) -> None:
        self._input_details = self._interpreter.get_input_details()
        self._output_details = self._interpreter.get_output_details()
        self.inputs = [_tensor_spec(detail) for detail in self._input_details]
        self.outputs = [_tensor_spec(detail) for detail in self._output_details]

    def set_inputs(self, feeds: dict[str, np.ndarray]) -> None:
        """Bind input values (resizing inputs whose shape differs) for ``run()``.

        Raises:
            InvalidOptionError: A model input has no value in ``feeds``.
        """
        missing = [d["name"] for d in self._input_details if d["name"] not in feeds]
        if missing:
            raise InvalidOptionError(f"no input value for model input(s): {', '.join(missing)}")
        resized = False
        for detail in self._input_details:
            shape = tuple(feeds[detail["name"]].shape)
            if shape != tuple(detail["shape"]):
                self._interpreter.resize_tensor_input(detail["index"], list(shape), strict=False)
                resized = True
        if resized:
            self._interpreter.allocate_tensors()
            self._refresh_details()
        for detail in self._input_details:
            value = np.asarray(feeds[detail["name"]], dtype=detail["dtype"])
            self._interpreter.set_tensor(detail["index"], value)

    def run(self) -> None:
        """One inference on the bound inputs."""
        self._interpreter.invoke()

    def get_outputs(self) -> dict[str, np.ndarray]:
        """Copies of the outputs of the last ``run()``, by tensor name."""
        return {d["name"]: self._interpreter.get_tensor(d["index"]) for d in self._output_details}

    def output_quantization(self) -> dict[str, tuple[float, int]]:
        """TFLite's per-tensor (scale, zero_point) of quantized outputs."""
        found = {}
        for detail in self._output_details:
            scale, zero_point = detail.get("quantization", (0.0, 0))
            if scale:
                found[detail["name"]] = (float(scale), int(zero_point))
        return found

    def close(self) -> None:
        """Release the interpreter (and with it the delegates)."""
        self._interpreter = None


def _tensor_spec(detail: dict[str, Any]) -> TensorInfo:
    shape = detail.get("shape_signature", detail["shape"])
    return TensorInfo(
        name=detail["name"],
        shape=tuple(int(dim) for dim in shape),
        dtype=np.dtype(detail["dtype"]).name,
    )


def layer_timings(events: list[ProfilerEvent]) -> list[LayerTiming]:
    """One ``LayerTiming`` per op event, in execution order.

    Builtin kernels report the TFLite op (``CONV_2D``) and node index; XNNPACK
    reports its own operators (``Convolution (NHWC, F32) IGEMM``) and their
    index, which are not 1:1 with TFLite nodes.
    """
    return [
        LayerTiming(
            name=f"{event.tag}:{event.metadata1}",
            type=event.tag,
            compute_unit="CPU",
            execution_time_us=float(event.elapsed_us),
        )
        for event in events
        if event.event_type in _OP_EVENT_TYPES
    ]


def _general_warnings(
    general: GeneralOptions, in_use: list[str], user: dict[str, SubValue]
) -> list[str]:
    """Options that were given but cannot take effect: said, never dropped silently.

    ``in_use`` names the delegates that really loaded: an option of a delegate
    that was asked for but fell back did not take effect either.
    """
    warnings = no_equivalent_warnings(user) + unused_option_warnings(user, in_use)
    if general.force_opengl and "gpu" not in in_use:
        warnings.append("force_opengl=true not applied: it needs delegate gpu, which is not in use")
    if "allow_fp32_as_fp16" in general.given and not in_use:
        warnings.append("allow_fp32_as_fp16 not applied: CPU kernels run fp32 ops in fp32")
    if "qnn" in in_use and any(key.startswith("qnn_dsp_") for key in user):
        warnings.append(
            "qnn_dsp_* options only act on the QNN DSP backend; qnn uses backend_type=htp"
        )
    return warnings


def _settings(
    general: GeneralOptions, threads: int, plan: DelegatePlan, built: _Built
) -> dict[str, str]:
    settings = {
        **general_settings(general, threads),
        "xnnpack": "on" if plan.xnnpack else "off",
        "op_resolver": "BUILTIN" if plan.xnnpack else "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
    }
    for spec in built.delegates:
        settings[f"delegate.{spec.name}.library"] = str(spec.path)
        settings[f"delegate.{spec.name}.options"] = spec.describe()
    return settings


class LiteRtRuntime:
    """The ``Runtime`` for ``.tflite`` models, on LiteRT (tflite_runtime if LiteRT is missing)."""

    name: str = "litert"
    model_types: tuple[str, ...] = types_of_runtime("litert")  # contract/formats.py

    def __init__(self, library_dirs: tuple[str, ...] = ()) -> None:
        """``library_dirs``: extra places ``info()`` looks for delegate libraries."""
        self._library_dirs = library_dirs

    def info(self) -> RuntimeInfo:
        """Version, availability, XNNPACK plus the delegates whose library is present."""
        try:
            _, runtime, version = _interpreter_module()
        except RuntimeUnavailableError as exc:
            return RuntimeInfo(self.name, "", available=False, detail=str(exc))
        dirs = search_dirs(self._library_dirs, Policy.DEVICE)
        found = tuple(name for name, lib in LIBRARIES.items() if find_in(lib, dirs))
        detail = "" if runtime == "litert" else "ai-edge-litert missing; using tflite_runtime"
        return RuntimeInfo(
            self.name, version, True, accelerators=("xnnpack", *found), detail=detail
        )

    def prepare(self) -> None:
        """Import LiteRT's interpreter module (no interpreter, no delegate is created)."""
        _interpreter_module()

    def load(self, model_path: Path, config: RunConfig) -> LiteRtModel:
        """Load ``model_path`` with the delegates and options of ``config``.

        Raises:
            InvalidModelError: Not a readable TFLite model.
            InvalidOptionError: Unknown or invalid option.
            MissingLibraryError: A delegate library is absent and enable_fallback=false.
            DelegateError: A delegate failed and enable_fallback=false.
        """
        check_model_file(model_path)
        user = config.tflite.values
        general = GeneralOptions.from_values(user)
        plan = plan_delegates(config)
        module, runtime, version = _interpreter_module()
        specs, missing = _resolve_specs(plan, general, user, config)
        threads = resolve_threads(general.number_of_threads)
        builder = _InterpreterBuilder(module, model_path, plan, threads, general, config)
        built = builder.build_with_fallback(specs)
        if general.invoke_interpreter_on_cold_load:
            built = builder.validate_by_invoke(built)
        in_use = [spec.name for spec in built.delegates]
        applied = AppliedConfig(
            runtime=runtime,
            runtime_version=version,
            accelerators=[*in_use, "xnnpack" if plan.xnnpack else "cpu"],
            fallbacks=missing + built.fallbacks,
            warnings=_general_warnings(general, in_use, user),
            settings=_settings(general, threads, plan, built),
        )
        return LiteRtModel(built.interpreter, applied)

    def profile_layers(
        self,
        model_path: Path,
        config: RunConfig,
        feeds: dict[str, np.ndarray],
        iterations: int,
    ) -> list[ProfiledIteration]:
        """Per-op timings of ``iterations`` profiled runs, one list per run.

        Uses its own compiled model through LiteRT's C API, on the CPU path the
        job's plan selects (XNNPACK or builtin kernels, same thread count);
        external delegates (NPU/GPU) are not profiled by this path. One
        unprofiled warm-up run comes first, so one-time costs stay out.
        """
        check_model_file(model_path)
        general = GeneralOptions.from_values(config.tflite.values)
        plan = plan_delegates(config)
        threads = resolve_threads(general.number_of_threads)
        profiled = ProfiledCompiledModel(model_path, num_threads=threads, use_xnnpack=plan.xnnpack)
        with profiled as model:
            model.write_inputs(feeds)
            model.run(profiled=False)
            runs = [model.run() for _ in range(iterations)]
            return [ProfiledIteration(layer_timings(run.events), run.wall_us) for run in runs]


def _resolve_specs(
    plan: DelegatePlan, general: GeneralOptions, user: dict[str, SubValue], config: RunConfig
) -> tuple[list[DelegateSpec], list[str]]:
    """Delegates whose library is found, and fallback notes for those that are not.

    Raises:
        MissingLibraryError: A library is missing and enable_fallback=false.
    """
    dirs = search_dirs(config.library_dirs, Policy.DEVICE)
    specs: list[DelegateSpec] = []
    missing: list[str] = []
    for name in plan.delegates:
        path = find_in(LIBRARIES[name], dirs)
        if path is None:
            reason = f"{LIBRARIES[name]} not found in {', '.join(map(str, dirs))}"
            if not general.enable_fallback:
                raise MissingLibraryError(f"delegate {name}: {reason}")
            missing.append(f"{name}: {reason}")
            continue
        options = delegate_options(name, user, general, config.htp_arch)
        specs.append(DelegateSpec(name, path, options))
    return specs, missing
