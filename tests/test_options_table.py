"""Every option and every sub-option: one accepted example, rejected values, the cloud's default.

The case lists below are the test's own copy of the cloud's docs (not read from the
table), and ``test_cases_cover_the_table`` fails when an option or sub-option
is added to the table without a case here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import pytest

import controller.options as options_pkg
from controller.errors import UserError
from controller.options import OptionError, Options, parse_options
from controller.options.spec import Job
from controller.options.table import OPTIONS, OPTIONS_BY_NAME


class Case(NamedTuple):
    name: str
    job: Job
    runtime: str
    accepted: str
    typed: Any
    rejected: tuple[str, ...]
    default: Any  # the cloud service's default as the typed field value
    extra: str = ""  # other options the accepted example needs


OPTION_CASES = [
    Case("compute_unit", "profile", "tflite", "npu,cpu", ("npu", "cpu"),
         ("tpu", "npu,npu", "all,npu", "NPU", "npu,,cpu"), ("all",)),
    Case("target_runtime", "compile", "tflite", "qnn_context_binary", "qnn_context_binary",
         ("tflite2", "TFLITE", "qnn"), "tflite"),
    Case("output_names", "compile", "tflite", "new_name_0,new_name_1",
         ("new_name_0", "new_name_1"), ("a,a", "a,,b", ","), ()),
    Case("force_channel_last_input", "compile", "tflite", "image,indices", ("image", "indices"),
         ("image,image", "image,"), ()),
    Case("force_channel_last_output", "compile", "tflite", "output_0,output_1",
         ("output_0", "output_1"), ("logits", "output_01", "output_0,output_0"), ()),
    Case("quantize_full_type", "compile", "tflite", "w8a16", "w8a16", ("int4", "INT8", "fp16"),
         None),
    Case("quantize_io", "compile", "tflite", "false", False, ("yes", "1", "on"), False),
    Case("quantize_io_type", "compile", "tflite", "uint8", "uint8", ("int16", "UINT8"), None,
         extra="--quantize_io"),
    Case("qnn_context_binary_vtcm", "compile", "qnn_context_binary", "0", 0,
         ("-1", "2.5", "four"), 4),
    Case("qnn_context_binary_optimization_level", "compile", "qnn_context_binary", "3", 3,
         ("0", "4", "2.0"), 2),
    Case("dequantize_outputs", "profile", "tflite", "false", False, ("no", "0"), True),
    Case("tflite_delegates", "profile", "tflite", "qnn,gpu", ("qnn", "gpu"),
         ("hexagon", "qnn,qnn", "QNN"), ()),
    Case("tflite_options", "profile", "tflite",
         "number_of_threads=4;qnn_htp_precision=kHtpQuantized",
         {"number_of_threads": 4, "qnn_htp_precision": "kHtpQuantized"},
         ("number_of_threads", "threads=4", "", "context_priority=HIGH"), {}),
    Case("qnn_options", "profile", "qnn_lib_aarch64_android",
         "context_priority=HIGH;context_htp_performance_mode=BALANCED",
         {"context_priority": "HIGH", "context_htp_performance_mode": "BALANCED"},
         ("context_priority=URGENT", "number_of_threads=4", ";"), {}),
    Case("onnx_execution_providers", "profile", "onnx", "qnn-gpu,qnn", ("qnn-gpu", "qnn"),
         ("cuda", "qnn,qnn"), ()),
    Case("max_profiler_iterations", "profile", "tflite", "1", 1,
         ("0", "-5", "1.5", "2147483648", "1e3"), 100),
    Case("max_profiler_time", "profile", "tflite", "600", 600.0,
         ("0", "601", "-1", "nan", "inf", "thirty", "600.0001"), 600.0),
    Case("qairt_version", "inference", "onnx", "2.50", "2.50", ("",), None),
]  # fmt: skip


class SubCase(NamedTuple):
    parent: str
    name: str
    accepted: str
    typed: Any
    rejected: tuple[str, ...]
    default: Any  # the cloud service's default; None where the cloud names none


_B = ("yes", "1", "")  # never booleans
_TF, _QNN = "tflite_options", "qnn_options"
_PRIO = "TFLITE_GPU_INFERENCE_PRIORITY_"
_PREF = "TFLITE_GPU_INFERENCE_PREFERENCE_"


def _tf(
    name: str, accepted: str, rejected: tuple[str, ...], default: Any, typed: Any = None
) -> SubCase:
    """A --tflite_options case; an enum's typed value is its accepted text."""
    return SubCase(_TF, name, accepted, accepted if typed is None else typed, rejected, default)


def _qnn(
    name: str, accepted: str, rejected: tuple[str, ...], default: Any, typed: Any = None
) -> SubCase:
    """A --qnn_options case; an enum's typed value is its accepted text."""
    return SubCase(_QNN, name, accepted, accepted if typed is None else typed, rejected, default)


SUB_CASES = [
    # TensorFlow Lite options
    _tf("enable_fallback", "false", _B, True, typed=False),
    _tf("invoke_interpreter_on_cold_load", "TRUE", _B, False, typed=True),
    _tf("allow_fp32_as_fp16", "False", _B, True, typed=False),
    _tf("force_opengl", "true", _B, False, typed=True),
    _tf("number_of_threads", "-1", ("0", "-2", "2.5", "four"), -1, typed=-1),
    _tf("release_dynamic_tensors", "true", _B, False, typed=True),
    # QNN delegate
    _tf("qnn_log_level", "kLogLevelDebug", ("kLogLevelTrace", "debug"), "kLogLevelWarn"),
    _tf("qnn_graph_priority", "kQnnPriorityHigh", ("HIGH",), "kQnnPriorityDefault"),
    _tf("qnn_gpu_precision", "kGpuHybrid", ("kGpuFp8",), "kGpuFp16"),
    _tf("qnn_gpu_performance_mode", "kGpuLow", ("kgpulow",), "kGpuHigh"),
    _tf("qnn_dsp_performance_mode", "kDspSustainedHighPerformance", ("kHtpBurst",), "kDspBurst"),
    _tf("qnn_dsp_encoding", "kDspDynamic", ("dynamic",), "kDspStatic"),
    _tf("qnn_htp_performance_mode", "kHtpLowPowerSaver", ("kHtpTurbo", "BURST"), "kHtpBurst"),
    _tf("qnn_htp_precision", "kHtpQuantized", ("kHtpFp32",), "kHtpFp16"),
    _tf("qnn_htp_optimization_strategy", "kHtpOptimizeForPrepare", ("kHtpOptimizeForSize",),
        "kHtpOptimizeForInference"),
    _tf("qnn_htp_use_conv_hmx", "false", _B, True, typed=False),
    _tf("qnn_htp_use_fold_relu", "true", _B, False, typed=True),
    _tf("qnn_htp_vtcm_size", "8", ("0", "-1", "8MB"), None, typed=8),
    _tf("qnn_htp_num_hvx_threads", "2", ("0", "two"), None, typed=2),
    # GPUv2
    _tf("gpu_inference_preference", f"{_PREF}BALANCED", ("BALANCED",), f"{_PREF}SUSTAINED_SPEED"),
    _tf("gpu_inference_priority1", f"{_PRIO}MAX_PRECISION", ("MAX_PRECISION",),
        f"{_PRIO}MIN_LATENCY"),
    _tf("gpu_inference_priority2", f"{_PRIO}AUTO", (f"{_PRIO}FASTEST",),
        f"{_PRIO}MIN_MEMORY_USAGE"),
    _tf("gpu_inference_priority3", f"{_PRIO}AUTO", ("auto",), f"{_PRIO}MAX_PRECISION"),
    _tf("gpu_max_delegated_partitions", "2", ("0", "-1", "x"), 1, typed=2),
    # NNAPI
    _tf("nnapi_execution_preference", "kLowPower", ("kFast",), "kSustainedSpeed"),
    _tf("nnapi_max_number_delegated_partitions", "-1", ("1.5", "none"), 3, typed=-1),
    _tf("nnapi_allow_fp16", "false", _B, True, typed=False),
    # Qualcomm AI Engine Direct
    _qnn("context_async_execution_queue_depth_numeric", "4", ("-1", "deep"), None, typed=4),
    _qnn("context_enable_graphs", "graph_a,graph_b", ("a,a", "a,,b"), None,
         typed=("graph_a", "graph_b")),
    _qnn("context_error_reporting_options_level", "DETAILED", ("VERBOSE", "brief"), None),
    _qnn("context_error_reporting_options_storage_limit", "64", ("-1", "64KB"), None, typed=64),
    _qnn("context_memory_limit_hint", "512", ("-512", "0.5"), None, typed=512),
    _qnn("context_priority", "NORMAL_HIGH", ("URGENT", "high"), None),
    _qnn("context_gpu_performance_hint", "LOW", ("LOWEST",), "HIGH"),
    _qnn("context_gpu_use_gl_buffers", "true", _B, None, typed=True),
    _qnn("context_htp_performance_mode", "EXTREME_POWER_SAVER", ("kHtpBurst", "TURBO"), "BURST"),
    _qnn("default_graph_priority", "LOW", ("LOWEST",), None),
    _qnn("default_graph_gpu_precision", "FLOAT16", ("FP16",), "USER_PROVIDED"),
    _qnn("default_graph_gpu_disable_memory_optimizations", "true", _B, None, typed=True),
    _qnn("default_graph_gpu_disable_node_optimizations", "true", _B, None, typed=True),
    _qnn("default_graph_gpu_disable_queue_recording", "true", _B, None, typed=True),
    _qnn("default_graph_htp_disable_fold_relu_activation_into_conv", "true", _B, False, typed=True),
    _qnn("default_graph_htp_num_hvx_threads", "8", ("0", "eight"), 4, typed=8),
    _qnn("default_graph_htp_optimization_type", "FINALIZE_OPTIMIZATION_FLAG", ("FINALIZE",), None),
    _qnn("default_graph_htp_optimization_value", "3", ("0", "4"), None, typed=3),
    _qnn("default_graph_htp_precision", "FLOAT16", ("FLOAT32",), None),
    _qnn("default_graph_htp_disable_short_depth_conv_on_hmx", "true", _B, False, typed=True),
    _qnn("default_graph_htp_vtcm_size", "0", ("-1", "4MB"), 4, typed=0),
]  # fmt: skip

#: Sub-options that need a sibling to be accepted (the cloud's docs: "in combination with").
SUB_EXTRA = {"default_graph_htp_optimization_value": "default_graph_htp_optimization_type="
             "FINALIZE_OPTIMIZATION_FLAG"}  # fmt: skip
SUB_RUNTIME = {_TF: "tflite", _QNN: "qnn_lib_aarch64_android"}


def _parse(text: str, case: Case) -> Options:
    return parse_options(text, job=case.job, target_runtime=case.runtime)


# ------------------------------------------------------------------ coverage


def test_cases_cover_the_table() -> None:
    assert [c.name for c in OPTION_CASES] == [spec.name for spec in OPTIONS]
    for parent in (_TF, _QNN):
        declared = list(OPTIONS_BY_NAME[parent].sub_options())
        assert [c.name for c in SUB_CASES if c.parent == parent] == declared


def test_options_fields_match_the_table() -> None:
    fields = {f.name for f in dataclasses.fields(Options)} - {"job", "given", "requested"}
    assert fields == set(OPTIONS_BY_NAME)


def test_every_table_default_is_a_valid_value() -> None:
    from controller.options.values import format_value, parse_value

    specs = [*OPTIONS, *(s for spec in OPTIONS for s in spec.sub_options().values())]
    for spec in specs:
        if spec.default is not None and spec.default != () and not isinstance(spec.default, dict):
            text = format_value(spec, spec.default)
            assert parse_value(spec, text, spec.name) == spec.default, spec.name


def test_public_all_is_sorted_and_complete() -> None:
    assert options_pkg.__all__ == sorted(options_pkg.__all__)
    for name in options_pkg.__all__:
        assert hasattr(options_pkg, name)
    for name in ("parse_options", "Options", "describe_options", "target_runtime_for_model"):
        assert name in options_pkg.__all__


# ------------------------------------------------------------------- options


@pytest.mark.parametrize("case", OPTION_CASES, ids=lambda c: c.name)
def test_option_accepted_in_both_forms(case: Case) -> None:
    for text in (f"--{case.name} {case.accepted}", f"--{case.name}={case.accepted}"):
        opts = _parse(f"{text} {case.extra}", case)
        assert getattr(opts, case.name) == case.typed
        assert case.name in opts.given


@pytest.mark.parametrize(
    ("case", "bad"),
    [(c, bad) for c in OPTION_CASES for bad in c.rejected],
    ids=lambda v: v.name if isinstance(v, Case) else repr(v),
)
def test_option_rejected(case: Case, bad: str) -> None:
    with pytest.raises(UserError) as info:
        _parse(f"--{case.name}={bad} {case.extra}", case)
    assert f"--{case.name}" in str(info.value)
    if bad and isinstance(info.value, OptionError) and info.value.value is not None:
        # A sub-option list is reported by its bad key or bad value, not the whole list.
        parts = bad.split("=") if OPTIONS_BY_NAME[case.name].sub_tables else [bad]
        assert any(part in str(info.value) for part in parts)


@pytest.mark.parametrize("case", OPTION_CASES, ids=lambda c: c.name)
def test_option_default_is_the_seeds(case: Case) -> None:
    opts = _parse("", case)
    if case.name == "target_runtime":
        assert opts.target_runtime == case.runtime  # derived from the model: see test_targets
    else:
        assert getattr(opts, case.name) == case.default
    assert opts.given == frozenset()


# --------------------------------------------------------------- sub-options


@pytest.mark.parametrize("case", SUB_CASES, ids=lambda c: c.name)
def test_sub_option_accepted(case: SubCase) -> None:
    extra = f";{SUB_EXTRA[case.name]}" if case.name in SUB_EXTRA else ""
    text = f'--{case.parent} "{case.name}={case.accepted}{extra}"'
    opts = parse_options(text, job="profile", target_runtime=SUB_RUNTIME[case.parent])
    assert getattr(opts, case.parent)[case.name] == case.typed


@pytest.mark.parametrize(
    ("case", "bad"),
    [(c, bad) for c in SUB_CASES for bad in c.rejected],
    ids=lambda v: v.name if isinstance(v, SubCase) else repr(v),
)
def test_sub_option_rejected(case: SubCase, bad: str) -> None:
    text = f'--{case.parent} "{case.name}={bad}"'
    with pytest.raises(OptionError) as info:
        parse_options(text, job="profile", target_runtime=SUB_RUNTIME[case.parent])
    assert info.value.option == f"--{case.parent} {case.name}"
    assert f"'{bad}'" in str(info.value) or f"{bad} is out of range" in str(info.value)
    assert "allowed:" in str(info.value)


@pytest.mark.parametrize("case", SUB_CASES, ids=lambda c: c.name)
def test_sub_option_default_is_the_seeds(case: SubCase) -> None:
    opts = parse_options(None, job="profile", target_runtime=SUB_RUNTIME[case.parent])
    effective = (
        opts.tflite_options_effective() if case.parent == _TF else opts.qnn_options_effective()
    )
    assert effective.get(case.name) == case.default
    assert getattr(opts, case.parent) == {}
