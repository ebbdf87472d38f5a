"""``--tflite_delegates`` / ``--tflite_options`` as ``benchmark_model`` flags.

One benchmark_model run applies one accelerator delegate (plus XNNPACK and
TFLite's CPU kernels for what it does not take), so the delegate list becomes a
sequence of attempts: the first that runs is used, the ones before it are
recorded as fallbacks (only while ``enable_fallback`` is true), and the last
resort is the CPU, as TFLite always keeps one.

Flag names are benchmark_model's documented parameters (TensorFlow Lite's
``tools/benchmark/README.md`` and the delegate registrar's list). The QNN
delegate is an external delegate: its options string is built by the same
``litert_delegates.delegate_options`` the in-process LiteRT path uses, written
``key:value;key:value`` as ``--external_delegate_options`` expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.errors import MissingLibraryError
from agent.runtimes.base import RunConfig
from agent.runtimes.libraries import Policy, find_library, searched
from agent.runtimes.litert import plan_delegates
from agent.runtimes.litert_delegates import (
    LIBRARIES,
    NNAPI_GPU_ACCELERATOR,
    GeneralOptions,
    delegate_options,
    resolve_threads,
    unused_option_warnings,
)
from contract.option_spec import SubValue
from contract.option_tables import TFLITE_SUB_OPTIONS

#: What each delegate's nodes ran on, for per-layer rows. NNAPI picks its own
#: accelerator; on Snapdragon, plain ``nnapi`` is asked for the NPU.
DELEGATE_UNITS = {"qnn": "NPU", "qnn-gpu": "GPU", "gpu": "GPU", "nnapi": "NPU", "nnapi-gpu": "GPU"}
_NNAPI_PREFERENCE = {
    "kLowPower": "low_power",
    "kFastSingleAnswer": "fast_single_answer",
    "kSustainedSpeed": "sustained_speed",
}
_GPU_SUSTAINED = {
    "TFLITE_GPU_INFERENCE_PREFERENCE_SUSTAINED_SPEED": "true",
    "TFLITE_GPU_INFERENCE_PREFERENCE_FAST_SINGLE_ANSWER": "false",
}
_NO_FLAG = "benchmark_model has no flag for it"


@dataclass
class Attempt:
    """One benchmark_model configuration to try: a delegate (or none) and its flags."""

    delegate: str | None  # None: XNNPACK / CPU kernels only
    flags: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def accelerators(self) -> list[str]:
        """Delegates in use, as AppliedConfig.accelerators names them."""
        xnnpack = "--use_xnnpack=true" in self.flags
        return [d for d in (self.delegate, "xnnpack" if xnnpack else None) if d]

    @property
    def compute_unit(self) -> str:
        """What delegate nodes report as their compute unit."""
        return DELEGATE_UNITS.get(self.delegate or "", "CPU")


def attempts(config: RunConfig) -> tuple[list[Attempt], list[str]]:
    """The configurations to try in order, and fallback lines for delegates left out.

    Raises:
        InvalidOptionError: An unknown delegate, compute unit or sub-option value.
        MissingLibraryError: The first delegate's library is absent and fallback is off.
    """
    user = config.tflite.values
    general = GeneralOptions.from_values(user)
    plan = plan_delegates(config)
    threads = resolve_threads(general.number_of_threads)
    common = _general_flags(general, user, plan.xnnpack, threads)
    result, fallbacks = [], []
    for name in plan.delegates:
        try:
            flags, warnings = _delegate_flags(name, user, general, config)
        except MissingLibraryError as exc:
            if not general.enable_fallback:
                raise
            fallbacks.append(f"{name}: {exc}")
            continue
        warnings += unused_option_warnings(user, [name])
        result.append(Attempt(name, [*common, *flags], warnings, {"num_threads": str(threads)}))
        if not general.enable_fallback:
            return result, fallbacks
    cpu_warnings = unused_option_warnings(user, [])
    result.append(Attempt(None, common, cpu_warnings, {"num_threads": str(threads)}))
    return result, fallbacks


def _general_flags(
    general: GeneralOptions, user: Mapping[str, SubValue], xnnpack: bool, threads: int
) -> list[str]:
    flags = [f"--num_threads={threads}", f"--use_xnnpack={str(xnnpack).lower()}"]
    if general.release_dynamic_tensors:
        flags.append("--release_dynamic_tensors=true")
    return flags


def _delegate_flags(
    name: str, user: Mapping[str, SubValue], general: GeneralOptions, config: RunConfig
) -> tuple[list[str], list[str]]:
    """Flags selecting delegate ``name`` and applying its sub-options, plus warnings."""
    if name in ("qnn", "qnn-gpu"):
        return _qnn_flags(name, user, general, config), []
    if name == "gpu":
        return _gpu_flags(user, general)
    return _nnapi_flags(name, user, general), []


def _qnn_flags(
    name: str, user: Mapping[str, SubValue], general: GeneralOptions, config: RunConfig
) -> list[str]:
    library = find_library(LIBRARIES[name], config.library_dirs, Policy.DEVICE)
    if library is None:
        where = searched(config.library_dirs, Policy.DEVICE)
        raise MissingLibraryError(f"{LIBRARIES[name]} not found (searched: {where})")
    options = delegate_options(name, user, general, config.htp_arch)
    text = ";".join(f"{key}:{value}" for key, value in options.items())
    return [f"--external_delegate_path={library}", f"--external_delegate_options={text}"]


def _gpu_flags(
    user: Mapping[str, SubValue], general: GeneralOptions
) -> tuple[list[str], list[str]]:
    flags = ["--use_gpu=true", f"--gpu_precision_loss_allowed={_b(general.allow_fp32_as_fp16)}"]
    warnings = []
    if general.force_opengl:
        flags.append("--gpu_backend=gl")
    preference = str(_value(user, "gpu_inference_preference"))
    if preference in _GPU_SUSTAINED:
        flags.append(f"--gpu_inference_for_sustained_speed={_GPU_SUSTAINED[preference]}")
    else:
        warnings.append(f"gpu_inference_preference={preference} not applied: {_NO_FLAG}")
    for option in ("gpu_inference_priority1", "gpu_inference_priority2", "gpu_inference_priority3"):
        if option in user and user[option] != TFLITE_SUB_OPTIONS[option].default:
            warnings.append(f"{option}={user[option]} not applied: {_NO_FLAG}")
    flags.append(f"--max_delegated_partitions={_value(user, 'gpu_max_delegated_partitions')}")
    return flags, warnings


def _nnapi_flags(name: str, user: Mapping[str, SubValue], general: GeneralOptions) -> list[str]:
    preference = _NNAPI_PREFERENCE[str(_value(user, "nnapi_execution_preference"))]
    fp16 = user.get("nnapi_allow_fp16", general.allow_fp32_as_fp16)
    partitions = int(str(_value(user, "nnapi_max_number_delegated_partitions")))
    flags = ["--use_nnapi=true", f"--nnapi_execution_preference={preference}"]
    flags += [f"--nnapi_allow_fp16={_b(bool(fp16))}"]
    # The documented "<= 0 means no limit" is the flag's 0.
    flags.append(f"--max_delegated_partitions={max(partitions, 0)}")
    if name == "nnapi-gpu":
        flags.append(f"--nnapi_accelerator_name={NNAPI_GPU_ACCELERATOR}")
    return flags


def _value(user: Mapping[str, SubValue], option: str) -> SubValue:
    default = TFLITE_SUB_OPTIONS[option].default
    return user.get(option, default if default is not None else "")


def _b(value: bool) -> str:
    return "true" if value else "false"


def general_warnings(general: GeneralOptions) -> list[str]:
    """Notes on general options that behave differently under benchmark_model."""
    notes = []
    if general.invoke_interpreter_on_cold_load:
        notes.append(
            "invoke_interpreter_on_cold_load: benchmark_model always invokes during its "
            "first run; a delegate that fails there fails that attempt (then fallback)"
        )
    return notes
