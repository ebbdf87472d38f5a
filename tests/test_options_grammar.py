"""The option grammar: forms, optional-bool flags, quoting, token lists, stray tokens."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from controller.errors import UserError
from controller.options import OptionError, Options, parse_options
from controller.options.grammar import join_tokens, split_tokens


def compile_(text: str | Sequence[str] | None, runtime: str = "tflite") -> Options:
    return parse_options(text, job="compile", target_runtime=runtime)


def profile(text: str | Sequence[str] | None, runtime: str = "tflite") -> Options:
    return parse_options(text, job="profile", target_runtime=runtime)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--quantize_io", True),
        ("--quantize_io true", True),
        ("--quantize_io TRUE", True),
        ("--quantize_io=True", True),
        ("--quantize_io false", False),
        ("--quantize_io=false", False),
        ("--quantize_io FaLsE", False),
        ("", False),
    ],
)
def test_optional_bool_flag(text: str, expected: bool) -> None:
    assert compile_(text).quantize_io is expected


def test_bare_flag_before_another_option() -> None:
    opts = compile_("--quantize_io --quantize_io_type uint8")
    assert opts.quantize_io is True
    assert opts.quantize_io_type == "uint8"


def test_bare_flag_at_the_end_and_dequantize_outputs() -> None:
    assert profile("--compute_unit gpu --dequantize_outputs").dequantize_outputs is True
    assert profile("--dequantize_outputs false --compute_unit gpu").dequantize_outputs is False


@pytest.mark.parametrize("bad", ["--quantize_io=", "--quantize_io=1", "--quantize_io=yes"])
def test_flag_with_bad_inline_value(bad: str) -> None:
    with pytest.raises(
        OptionError, match=r"--quantize_io: .* is not a boolean; allowed: true or false"
    ):
        compile_(bad)


def test_flag_followed_by_a_non_boolean_word() -> None:
    with pytest.raises(OptionError, match="unexpected 'maybe' after '--quantize_io'"):
        compile_("--quantize_io maybe")


def test_seed_examples_parse_unchanged() -> None:
    assert profile("--compute_unit npu,cpu").compute_unit == ("npu", "cpu")
    assert compile_("--target_runtime qnn_lib_aarch64_android").target_runtime == (
        "qnn_lib_aarch64_android"
    )
    assert compile_('--output_names "new_name_0,new_name_1"').output_names == (
        "new_name_0",
        "new_name_1",
    )
    assert compile_('--force_channel_last_input "image,indices"').force_channel_last_input == (
        "image",
        "indices",
    )
    assert compile_("--quantize_io --quantize_io_type uint8").quantize_io_type == "uint8"
    assert (
        compile_("--qnn_context_binary_vtcm 2", "qnn_context_binary").qnn_context_binary_vtcm == 2
    )
    assert profile("--max_profiler_iterations=50").max_profiler_iterations == 50
    assert profile("--max_profiler_time=30").max_profiler_time == 30.0
    assert profile("--tflite_delegates qnn,qnn-gpu").tflite_delegates == ("qnn", "qnn-gpu")
    assert profile("--onnx_execution_providers qnn,qnn-gpu", "onnx").onnx_execution_providers == (
        "qnn",
        "qnn-gpu",
    )


def test_seed_semicolon_lists_quoted_and_unquoted() -> None:
    expected = {"number_of_threads": 4, "qnn_htp_precision": "kHtpQuantized"}
    for text in (
        '--tflite_options "number_of_threads=4;qnn_htp_precision=kHtpQuantized"',
        "--tflite_options number_of_threads=4;qnn_htp_precision=kHtpQuantized",
        "--tflite_options='number_of_threads=4; qnn_htp_precision=kHtpQuantized;'",
        "--tflite_options ' number_of_threads = 4 ;qnn_htp_precision=kHtpQuantized'",
    ):
        assert profile(text).tflite_options == expected
    qnn = profile(
        "--qnn_options context_priority=HIGH;context_htp_performance_mode=BALANCED",
        "qnn_lib_aarch64_android",
    )
    assert qnn.qnn_options == {
        "context_priority": "HIGH",
        "context_htp_performance_mode": "BALANCED",
    }


def test_unquoted_list_with_a_space_says_to_quote() -> None:
    with pytest.raises(OptionError, match="quote a list that contains spaces"):
        profile("--tflite_options number_of_threads=4; qnn_htp_precision=kHtpQuantized")


def test_comma_lists_tolerate_spaces_when_quoted() -> None:
    assert profile('--compute_unit "cpu, npu"').compute_unit == ("npu", "cpu")
    assert compile_('--output_names " a , b "').output_names == ("a", "b")


def test_compute_unit_is_unordered_delegates_are_ordered() -> None:
    assert profile("--compute_unit cpu,gpu,npu").compute_unit == ("npu", "gpu", "cpu")
    assert profile("--tflite_delegates xnnpack,qnn").tflite_delegates == ("xnnpack", "qnn")


def test_shell_quoting_of_names_with_spaces_and_quotes() -> None:
    opts = compile_("--output_names 'my out,it'\"'\"'s'")
    assert opts.output_names == ("my out", "it's")
    assert compile_(opts.to_option_string()) == opts


def test_token_sequence_is_taken_as_already_split() -> None:
    tokens = ["--output_names", "a b,c", "--quantize_io", "--compute_unit=gpu"]
    opts = compile_(tokens)
    assert opts.output_names == ("a b", "c")
    assert opts.quantize_io is True
    assert opts.requested == join_tokens(tokens)
    assert compile_(tuple(tokens)) == opts


def test_none_and_empty_mean_no_options() -> None:
    assert profile(None) == profile("") == profile([]) == profile("   ")
    assert profile(None).given == frozenset()


def test_requested_keeps_the_original_text() -> None:
    text = "--compute_unit  cpu,npu   --max_profiler_time=30"
    assert profile(text).requested == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("npu", "unexpected 'npu': options start with --"),
        ("-compute_unit npu", "Did you mean --compute_unit?"),
        ("--compute_unit npu cpu", "unexpected 'cpu' after '--compute_unit npu'"),
        ("--compute_unit", "--compute_unit: needs a value; allowed: --compute_unit <units>"),
        ("--compute_unit --max_profiler_time 5", "--compute_unit: needs a value"),
        ("--output_names 'a,b", "cannot split the option string"),
        ("--", "unknown option --"),
        ("--=npu", "unknown option --"),
    ],
)
def test_grammar_errors(text: str, message: str) -> None:
    with pytest.raises(OptionError) as info:
        profile(text)
    assert message in str(info.value)


def test_non_string_tokens_are_rejected() -> None:
    with pytest.raises(UserError, match="sequence of strings"):
        profile(["--compute_unit", 3])  # type: ignore[list-item]
    with pytest.raises(UserError, match="sequence of strings"):
        profile(b"--compute_unit npu")  # type: ignore[arg-type]


def test_split_and_join_are_inverse() -> None:
    tokens = ["--tflite_options=a=1;b=2", "--output_names=x y", "--quantize_io", "--output_names="]
    assert split_tokens(join_tokens(tokens)) == tokens


def test_inline_value_may_contain_equals_and_start_with_dashes() -> None:
    assert compile_(["--output_names=--x,=y"]).output_names == ("--x", "=y")
