"""TFLite delegates for the LiteRT runtime: which library, which options, where.

The sub-options of ``--tflite_options`` (names, allowed values, ranges, documented
defaults) are declared once, in ``contract.option_tables``; this module adds only
LiteRT's half, looked up by name:

* ``DELEGATE_KEYS``: for each delegate sub-option (``qnn_*``, ``gpu_*``,
  ``nnapi_*``), the delegates it applies to and the string key/value each
  delegate library's external-delegate entry point
  (``tflite_plugin_create_delegate``) parses. Enum names are translated to the
  numbers the libraries expect: the QNN delegate accepts nothing else, and a
  name such as ``burst`` for ``htp_performance_mode`` has been seen to abort the
  whole process instead of failing the load, so every value is checked against
  the shared table before it can reach a library.
* ``GENERAL_SETTINGS``: the general options LiteRT applies itself, and the
  ``applied.settings`` key that records each.
* ``NO_EQUIVALENT``: the sub-options LiteRT cannot apply; setting one to
  anything but its default yields a warning naming it.

``tests/test_options_mapping.py`` checks that every shared sub-option is in
exactly one of the three.

Where each delegate key comes from (``source`` column):
    qairt-doc   Qualcomm's "External Delegate Options" table (QAIRT TFLite
                delegate docs) and QnnTFLiteDelegate.h for the enum numbers.
    tflite-src  TensorFlow Lite's GPU plugin (``delegates/gpu/delegate.cc``
                ``ParseOptions`` keys = ``TfLiteGpuDelegateOptionsV2`` fields;
                enum numbers from ``delegate_options.h``) and
                ``nnapi_delegate_c_api.h`` for the NNAPI fields.
    inferred    Not found in any public text here; named after the
                delegate's C options field with the same prefix convention
                as its documented keys. Check on a device before relying on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from contract.option_spec import SubValue
from contract.option_tables import TFLITE_GENERAL, TFLITE_SUB_OPTIONS

DELEGATE_NAMES = ("qnn", "qnn-gpu", "nnapi", "nnapi-gpu", "gpu", "xnnpack")
QNN_LIBRARY = "libQnnTFLiteDelegate.so"
GPU_LIBRARY = "libtensorflowlite_gpu_delegate.so"
NNAPI_LIBRARY = "libnnapi_delegate.so"
LIBRARIES = {
    "qnn": QNN_LIBRARY,
    "qnn-gpu": QNN_LIBRARY,
    "nnapi": NNAPI_LIBRARY,
    "nnapi-gpu": NNAPI_LIBRARY,
    "gpu": GPU_LIBRARY,
}

_QNN = ("qnn", "qnn-gpu")
_QNN_HTP = ("qnn",)
_QNN_GPU = ("qnn-gpu",)
_GPU = ("gpu",)
_NNAPI = ("nnapi", "nnapi-gpu")

# Enum numbers, by the documented names: the libraries' facts, not the options table's. The keys
# must be exactly the shared table's choices (tests/test_options_mapping.py).
_HTP_PERFORMANCE = {
    "kHtpSustainedHighPerformance": "1",
    "kHtpBurst": "2",
    "kHtpHighPerformance": "3",
    "kHtpPowerSaver": "4",
    "kHtpLowPowerSaver": "5",
    "kHtpHighPowerSaver": "6",
    "kHtpLowBalanced": "7",
    "kHtpBalanced": "8",
}
_DSP_PERFORMANCE = {name.replace("kHtp", "kDsp"): value for name, value in _HTP_PERFORMANCE.items()}
_GPU_PRIORITY = {
    "TFLITE_GPU_INFERENCE_PRIORITY_AUTO": "0",
    "TFLITE_GPU_INFERENCE_PRIORITY_MAX_PRECISION": "1",
    "TFLITE_GPU_INFERENCE_PRIORITY_MIN_LATENCY": "2",
    "TFLITE_GPU_INFERENCE_PRIORITY_MIN_MEMORY_USAGE": "3",
}


@dataclass(frozen=True)
class DelegateKey:
    """LiteRT's half of one delegate sub-option: where and how a library gets it.

    The sub-option itself (allowed values, range, documented default) is
    ``TFLITE_SUB_OPTIONS[option]``.
    """

    option: str  # the shared table's sub-option name
    delegates: tuple[str, ...]  # our delegate names it applies to
    key: str  # key passed to tflite_plugin_create_delegate
    source: str  # qairt-doc | tflite-src | inferred (module docstring)
    numbers: Mapping[str, str] | None = None  # enum choice -> library number; None: not an enum
    #: Pass the documented default when the user sets none. False leaves the library its
    #: own default: for inferred keys (an unverified key must not break every
    #: load) and where a general option decides (nnapi allow_fp16).
    send_default: bool = True

    def convert(self, value: SubValue) -> str:
        """The library's string for a typed, already validated ``value``."""
        if isinstance(value, bool):  # before int: bool is an int
            return "1" if value else "0"
        if self.numbers is not None:
            return self.numbers[str(value)]
        return str(value)


# fmt: off
DELEGATE_KEYS: tuple[DelegateKey, ...] = (
    DelegateKey("qnn_log_level", _QNN, "log_level", "qairt-doc", {
        "kLogOff": "0", "kLogLevelError": "1", "kLogLevelWarn": "2", "kLogLevelInfo": "3",
        "kLogLevelVerbose": "4", "kLogLevelDebug": "5"}),
    DelegateKey("qnn_graph_priority", _QNN, "graph_priority", "inferred", {
        "kQnnPriorityDefault": "0", "kQnnPriorityLow": "1", "kQnnPriorityNormal": "2",
        "kQnnPriorityNormalHigh": "3", "kQnnPriorityHigh": "4", "kQnnPriorityUndefined": "5"},
        send_default=False),
    DelegateKey("qnn_gpu_precision", _QNN_GPU, "gpu_precision", "qairt-doc", {
        "kGpuUserProvided": "0", "kGpuFp32": "1", "kGpuFp16": "2", "kGpuHybrid": "3"}),
    DelegateKey("qnn_gpu_performance_mode", _QNN_GPU, "gpu_performance_mode", "qairt-doc", {
        "kGpuDefault": "0", "kGpuHigh": "1", "kGpuNormal": "2", "kGpuLow": "3"}),
    # DSP keys only matter for backend_type=dsp (pre-HTP Hexagon); passed with qnn.
    DelegateKey("qnn_dsp_performance_mode", _QNN_HTP, "dsp_performance_mode", "qairt-doc",
                _DSP_PERFORMANCE, send_default=False),
    DelegateKey("qnn_dsp_encoding", _QNN_HTP, "dsp_encoding", "inferred", {
        "kDspStatic": "0", "kDspDynamic": "1"}, send_default=False),
    DelegateKey("qnn_htp_performance_mode", _QNN_HTP, "htp_performance_mode", "qairt-doc",
                _HTP_PERFORMANCE),
    DelegateKey("qnn_htp_precision", _QNN_HTP, "htp_precision", "qairt-doc", {
        "kHtpQuantized": "0", "kHtpFp16": "1"}),
    DelegateKey("qnn_htp_optimization_strategy", _QNN_HTP, "htp_optimization_strategy",
                "qairt-doc", {"kHtpOptimizeForInference": "0", "kHtpOptimizeForPrepare": "1"}),
    DelegateKey("qnn_htp_use_conv_hmx", _QNN_HTP, "htp_use_conv_hmx", "qairt-doc"),
    DelegateKey("qnn_htp_use_fold_relu", _QNN_HTP, "htp_use_fold_relu", "qairt-doc"),
    DelegateKey("qnn_htp_vtcm_size", _QNN_HTP, "htp_vtcm_size", "inferred"),
    DelegateKey("qnn_htp_num_hvx_threads", _QNN_HTP, "htp_num_hvx_threads", "inferred"),
    DelegateKey("gpu_inference_preference", _GPU, "inference_preference", "tflite-src", {
        "TFLITE_GPU_INFERENCE_PREFERENCE_FAST_SINGLE_ANSWER": "0",
        "TFLITE_GPU_INFERENCE_PREFERENCE_SUSTAINED_SPEED": "1",
        "TFLITE_GPU_INFERENCE_PREFERENCE_BALANCED": "2"}),
    DelegateKey("gpu_inference_priority1", _GPU, "inference_priority1", "tflite-src",
                _GPU_PRIORITY),
    DelegateKey("gpu_inference_priority2", _GPU, "inference_priority2", "tflite-src",
                _GPU_PRIORITY),
    DelegateKey("gpu_inference_priority3", _GPU, "inference_priority3", "tflite-src",
                _GPU_PRIORITY),
    DelegateKey("gpu_max_delegated_partitions", _GPU, "max_delegated_partitions", "tflite-src"),
    DelegateKey("nnapi_execution_preference", _NNAPI, "execution_preference", "tflite-src", {
        "kLowPower": "0", "kFastSingleAnswer": "1", "kSustainedSpeed": "2"}),
    DelegateKey("nnapi_max_number_delegated_partitions", _NNAPI,
                "max_number_delegated_partitions", "tflite-src"),
    DelegateKey("nnapi_allow_fp16", _NNAPI, "allow_fp16", "tflite-src", send_default=False),
)
# fmt: on
KEYS_BY_OPTION = {row.option: row for row in DELEGATE_KEYS}

#: General options LiteRT applies itself -> the ``applied.settings`` key recording each.
GENERAL_SETTINGS = {
    "enable_fallback": "enable_fallback",
    "invoke_interpreter_on_cold_load": "invoke_interpreter_on_cold_load",
    "allow_fp32_as_fp16": "allow_fp32_as_fp16",
    "force_opengl": "force_opengl",
    "number_of_threads": "num_threads",
}
#: Sub-options LiteRT has no knob for -> why; a non-default value becomes a warning.
NO_EQUIVALENT = {
    "release_dynamic_tensors": "the LiteRT Python Interpreter has no setting for it "
    "(experimental_release_dynamic_tensors is C++ only)",
}

# Experimental flag bits of TfLiteGpuDelegateOptionsV2 (delegate_options.h).
_GPU_FLAG_ENABLE_QUANT = 1 << 0
_GPU_FLAG_GL_ONLY = 1 << 2
# Snapdragon's NNAPI driver exposes the Adreno GPU under this accelerator name
# (inferred, like the "inferred" rows above).
NNAPI_GPU_ACCELERATOR = "qti-gpu"


@dataclass(frozen=True)
class GeneralOptions:
    """The documented "TensorFlow Lite Options" in effect: the user's over the table's defaults.

    Build it with ``from_values``; the fields are the names of ``TFLITE_GENERAL``
    (a test keeps them in step), the defaults come from that table.
    """

    enable_fallback: bool
    invoke_interpreter_on_cold_load: bool
    allow_fp32_as_fp16: bool
    force_opengl: bool
    number_of_threads: int
    release_dynamic_tensors: bool
    given: frozenset[str] = field(default_factory=frozenset)  # names the user set

    @classmethod
    def from_values(cls, values: Mapping[str, SubValue] | None = None) -> GeneralOptions:
        """General options from typed sub-option values (other sub-options are ignored)."""
        defaults = {spec.name: spec.default for spec in TFLITE_GENERAL.options}
        user = {name: value for name, value in (values or {}).items() if name in defaults}
        return cls(**{**defaults, **user}, given=frozenset(user))  # type: ignore[arg-type]


@dataclass(frozen=True)
class DelegateSpec:
    """A delegate to load: our name, its library file, and its option strings."""

    name: str
    path: Path
    options: dict[str, str]

    def describe(self) -> str:
        """``k=v;k=v`` for AppliedConfig.settings."""
        return ";".join(f"{key}={value}" for key, value in self.options.items())


def delegate_options(
    name: str, user: Mapping[str, SubValue], general: GeneralOptions, htp_arch: str = ""
) -> dict[str, str]:
    """All option strings for delegate ``name``: derived keys, table rows, defaults.

    Args:
        name: one of ``DELEGATE_NAMES`` (not xnnpack).
        user: the typed sub-options the user set (``RunConfig.tflite.values``).
        general: the general options in effect.
        htp_arch: the device's HTP architecture, when known ("73").
    """
    options = _derived_options(name, user, general)
    for row in DELEGATE_KEYS:
        if name not in row.delegates or row.key in options:
            continue
        value = user[row.option] if row.option in user else _default(row, htp_arch)
        if value is not None:
            options[row.key] = row.convert(value)
    return options


def _default(row: DelegateKey, htp_arch: str) -> SubValue | None:
    """The documented default to send for ``row``, or None to leave the library its own."""
    # The documented option: HTP fp16 "only applicable on 8gen1 and newer" (HTP v69+); on an
    # older, known arch leave precision to the delegate.
    if row.option == "qnn_htp_precision" and htp_arch.isdigit() and int(htp_arch) < 69:
        return None
    return TFLITE_SUB_OPTIONS[row.option].default if row.send_default else None


def _derived_options(
    name: str, user: Mapping[str, SubValue], general: GeneralOptions
) -> dict[str, str]:
    """Keys that come from the delegate choice and the general options, not a table row."""
    fp16 = general.allow_fp32_as_fp16
    if name == "qnn":
        options = {"backend_type": "htp"}
        if not fp16 and "qnn_htp_precision" not in user:
            options["htp_precision"] = "0"  # quantized: fp32 ops are not lowered to fp16
        return options
    if name == "qnn-gpu":
        options = {"backend_type": "gpu"}
        if not fp16 and "qnn_gpu_precision" not in user:
            options["gpu_precision"] = "1"  # kGpuFp32
        return options
    if name == "gpu":
        flags = _GPU_FLAG_ENABLE_QUANT | (_GPU_FLAG_GL_ONLY if general.force_opengl else 0)
        return {"is_precision_loss_allowed": "1" if fp16 else "0", "experimental_flags": str(flags)}
    options = {} if "nnapi_allow_fp16" in user else {"allow_fp16": "1" if fp16 else "0"}
    if name == "nnapi-gpu":
        options["accelerator_name"] = NNAPI_GPU_ACCELERATOR
    return options


def unused_option_warnings(user: Mapping[str, SubValue], delegates: list[str]) -> list[str]:
    """One warning per delegate sub-option whose delegate is not in ``delegates``."""
    warnings = []
    for option in user:
        row = KEYS_BY_OPTION.get(option)
        if row is not None and not set(row.delegates) & set(delegates):
            wanted = " or ".join(row.delegates)
            warnings.append(
                f"{option} not applied: it needs delegate {wanted}, which is not in use"
            )
    return warnings


def no_equivalent_warnings(user: Mapping[str, SubValue]) -> list[str]:
    """One warning per ``NO_EQUIVALENT`` sub-option set to something LiteRT does not do.

    Its default is what LiteRT does anyway, so asking for the default is honoured.
    """
    warnings = []
    for option, reason in NO_EQUIVALENT.items():
        if option in user and user[option] != TFLITE_SUB_OPTIONS[option].default:
            warnings.append(f"{option}={_text(user[option])} not applied: {reason}")
    return warnings


def general_settings(general: GeneralOptions, threads: int) -> dict[str, str]:
    """The general options as applied, under their ``GENERAL_SETTINGS`` keys.

    ``threads`` is the thread count really used (the documented -1 resolved).
    """
    values: dict[str, SubValue] = {name: getattr(general, name) for name in GENERAL_SETTINGS}
    values["number_of_threads"] = threads
    return {GENERAL_SETTINGS[name]: _text(value) for name, value in values.items()}


def _text(value: SubValue) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def resolve_threads(number_of_threads: int) -> int:
    """The documented -1 means half the hardware threads (at least one)."""
    if number_of_threads == -1:
        return max(1, (os.cpu_count() or 2) // 2)
    return number_of_threads
