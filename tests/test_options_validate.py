"""Where options apply (job kind, target runtime) and rules between options."""

from __future__ import annotations

import pytest

from controller.errors import InternalError, UserError
from controller.options import JOBS, RUNTIMES, OptionError, parse_options
from controller.options.spec import Job
from tests.test_options_table import OPTION_CASES

C: Job = "compile"
P: Job = "profile"
I: Job = "inference"  # noqa: E741
TFL, LIB, BIN, ONNX = RUNTIMES
ANY = set(RUNTIMES)

#: The cloud service's applicability, written out independently of the table.
APPLIES: dict[str, tuple[set[str], set[str]]] = {
    "compute_unit": ({C, P, I}, ANY),
    "target_runtime": ({C}, ANY),
    "output_names": ({C}, ANY),
    "force_channel_last_input": ({C}, {TFL, LIB, BIN}),
    "force_channel_last_output": ({C}, {TFL, LIB, BIN}),
    "quantize_full_type": ({C}, ANY),
    "quantize_io": ({C}, ANY),
    "quantize_io_type": ({C}, {TFL}),
    "qnn_context_binary_vtcm": ({C}, {BIN}),
    "qnn_context_binary_optimization_level": ({C}, {BIN}),
    "dequantize_outputs": ({P, I}, ANY),
    "tflite_delegates": ({P, I}, {TFL}),
    "tflite_options": ({P, I}, {TFL}),
    "qnn_options": ({C, P, I}, {LIB, BIN}),
    "onnx_execution_providers": ({P, I}, {ONNX}),
    "max_profiler_iterations": ({P}, ANY),
    "max_profiler_time": ({P}, ANY),
    "qairt_version": ({C, P, I}, ANY),
}
CASES = {case.name: case for case in OPTION_CASES}


def _example(name: str, job: Job = P) -> str:
    if (name, job) == ("qnn_options", C):  # a compile job takes only this sub-option
        return "--qnn_options context_enable_graphs=main"
    case = CASES[name]
    return f"--{name} {case.accepted} {case.extra}".strip()


def test_applicability_list_covers_every_option() -> None:
    assert set(APPLIES) == set(CASES)


@pytest.mark.parametrize(
    ("name", "job", "runtime"),
    [(n, j, r) for n in APPLIES for j in JOBS for r in RUNTIMES if n != "target_runtime"],
)
def test_option_accepted_exactly_where_the_seed_allows(name: str, job: Job, runtime: str) -> None:
    jobs, runtimes = APPLIES[name]
    text = _example(name, job)
    if job in jobs and runtime in runtimes:
        assert name in parse_options(text, job=job, target_runtime=runtime).given
        return
    with pytest.raises(OptionError) as info:
        parse_options(text, job=job, target_runtime=runtime)
    assert info.value.option == f"--{name}"
    expected = f"this is a{'n' if job == I else ''} {job} job" if job not in jobs else runtime
    assert expected in str(info.value)


def test_a_compile_job_refuses_qnn_sub_options_that_apply_when_the_model_runs() -> None:
    with pytest.raises(OptionError, match="context_priority: applies when the model runs"):
        parse_options("--qnn_options context_priority=HIGH", job=C, target_runtime=BIN)


@pytest.mark.parametrize("job", [P, I])
def test_target_runtime_is_compile_only(job: Job) -> None:
    with pytest.raises(OptionError, match="only compile jobs accept this option"):
        parse_options("--target_runtime onnx", job=job, target_runtime=TFL)


# ------------------------------------------------- the compile target override


def test_target_runtime_option_overrides_the_models_default() -> None:
    opts = parse_options("--target_runtime qnn_lib_aarch64_android", job=C, target_runtime=TFL)
    assert opts.target_runtime == LIB
    assert opts.compute_unit == ("npu",)  # the default follows the effective runtime


def test_runtime_rules_use_the_overridden_target() -> None:
    with pytest.raises(OptionError, match="not available for target runtime onnx"):
        parse_options(
            "--target_runtime onnx --force_channel_last_input x", job=C, target_runtime=TFL
        )
    opts = parse_options(
        "--qnn_context_binary_vtcm 0 --target_runtime qnn_context_binary", job=C, target_runtime=TFL
    )
    assert opts.qnn_context_binary_vtcm == 0


@pytest.mark.parametrize(
    ("runtime", "unit"), [(LIB, "npu"), (TFL, "all"), (BIN, "all"), (ONNX, "all")]
)
def test_compute_unit_default_depends_on_runtime(runtime: str, unit: str) -> None:
    for job in JOBS:
        assert parse_options(None, job=job, target_runtime=runtime).compute_unit == (unit,)


# ------------------------------------------------------ conflicting combinations


@pytest.mark.parametrize(
    ("job", "runtime", "text", "message"),
    [
        (P, TFL, "--qnn_options context_priority=HIGH", "not available for target runtime tflite"),
        (P, ONNX, "--qnn_options context_priority=HIGH", "qnn_lib_aarch64_android, or qnn_context"),
        (C, ONNX, "--force_channel_last_input image", "cannot be used when the target runtime is"),
        (C, ONNX, "--force_channel_last_output output_0", "cannot be used when the target runt"),
        (C, TFL, "--qnn_context_binary_vtcm 2", "with --target_runtime qnn_context_binary"),
        (C, LIB, "--qnn_context_binary_optimization_level 2", "--target_runtime qnn_context_b"),
        (P, TFL, "--max_profiler_time 0", "0 is out of range; allowed: a number > 0 and <= 600"),
        (P, TFL, "--max_profiler_time 601", "601 is out of range; allowed: a number > 0 and <= 6"),
        (C, TFL, "--quantize_io_type uint8", "needs --quantize_io as well"),
        (C, TFL, "--quantize_io false --quantize_io_type uint8", "needs --quantize_io as well"),
        (C, LIB, "--quantize_io --quantize_io_type int8", "not available for target runtime"),
        (C, TFL, "--quantize_io --quantize_full_type w8a16 --quantize_io_type uint8",
         "only available with --quantize_full_type int8, not w8a16"),
        (P, TFL, "--compute_unit npu --compute_unit=gpu", "given more than once"),
        (C, TFL, "--quantize_io --quantize_io=false", "given more than once"),
        (P, TFL, "--onnx_execution_providers qnn", "not available for target runtime tflite"),
        (P, ONNX, "--tflite_delegates qnn", "not available for target runtime onnx"),
        (P, LIB, "--tflite_options number_of_threads=2", "not available for target runtime"),
        (P, TFL, "--tflite_options 'number_of_threads=2;number_of_threads=3'", "more than once"),
        (P, LIB, "--qnn_options default_graph_htp_optimization_value=2",
         "needs default_graph_htp_optimization_type as well"),
        (P, TFL, "--compute_unit all,cpu", "'all' cannot be combined"),
    ],
)  # fmt: skip
def test_conflicts(job: Job, runtime: str, text: str, message: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_options(text, job=job, target_runtime=runtime)
    assert message in str(info.value)


def test_qnn_options_allowed_when_profiling_a_context_binary() -> None:
    text = "--qnn_options context_enable_graphs=g0,g1;context_priority=LOW"
    for job in (P, I):
        opts = parse_options(text, job=job, target_runtime=BIN)
        assert opts.qnn_options == {
            "context_enable_graphs": ("g0", "g1"),
            "context_priority": "LOW",
        }


def test_quantize_io_type_without_full_type_is_allowed() -> None:
    # The source model may already be int8 (an AIMET export); the compiler knows, we do not.
    assert parse_options("--quantize_io --quantize_io_type uint8", job=C, target_runtime=TFL)


def test_optimization_value_with_type_is_allowed() -> None:
    text = (
        "--qnn_options default_graph_htp_optimization_value=1;"
        "default_graph_htp_optimization_type=FINALIZE_OPTIMIZATION_FLAG"
    )
    assert (
        parse_options(text, job=P, target_runtime=LIB).qnn_options[
            "default_graph_htp_optimization_value"
        ]
        == 1
    )


# ------------------------------------------------------------ output names


def test_output_names_count_checked_when_known() -> None:
    ok = parse_options("--output_names a,b", job=C, target_runtime=TFL, output_count=2)
    assert ok.output_names == ("a", "b")
    with pytest.raises(OptionError, match=r"3 name\(s\) given but the model has 2 output\(s\)"):
        parse_options("--output_names a,b,c", job=C, target_runtime=TFL, output_count=2)
    with pytest.raises(OptionError, match="1 name"):
        parse_options("--output_names a", job=C, target_runtime=TFL, output_count=2)
    assert parse_options("--output_names a,b,c", job=C, target_runtime=TFL).output_names


def test_channel_last_output_uses_output_names_when_given() -> None:
    text = "--output_names logits,boxes --force_channel_last_output boxes"
    assert parse_options(text, job=C, target_runtime=TFL, output_count=2)
    bad = "--output_names logits,boxes --force_channel_last_output output_0"
    expected = r"'output_0' is not an output name; allowed \(from --output_names\): logits, boxes"
    with pytest.raises(OptionError, match=expected):
        parse_options(bad, job=C, target_runtime=TFL, output_count=2)


def test_channel_last_output_default_names() -> None:
    assert parse_options(
        "--force_channel_last_output output_1", job=C, target_runtime=TFL, output_count=2
    )
    with pytest.raises(
        OptionError,
        match=r"'output_2' is not an output name; allowed \(default output names\): output_0, ou",
    ):
        parse_options(
            "--force_channel_last_output output_2", job=C, target_runtime=TFL, output_count=2
        )
    assert parse_options("--force_channel_last_output output_7", job=C, target_runtime=TFL)
    with pytest.raises(OptionError, match="default output names output_0, output_1, ..."):
        parse_options("--force_channel_last_output logits", job=C, target_runtime=TFL)


# ------------------------------------------------------------ caller mistakes


def test_bad_job_or_output_count_is_an_internal_error() -> None:
    with pytest.raises(InternalError):
        parse_options(None, job="train", target_runtime=TFL)  # type: ignore[arg-type]
    with pytest.raises(InternalError):
        parse_options(None, job=C, target_runtime=TFL, output_count=0)


def test_unknown_target_runtime_names_the_allowed_ones() -> None:
    with pytest.raises(
        UserError, match="allowed: tflite, qnn_lib_aarch64_android, qnn_context_binary, onnx"
    ):
        parse_options(None, job=P, target_runtime="tensorrt")
