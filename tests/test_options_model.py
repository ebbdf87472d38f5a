"""``Options`` methods (wire maps, as_dict, canonical string) and model-file runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.errors import InternalError, UserError
from controller.options import (
    Options,
    default_compile_target,
    parse_options,
    target_runtime_for_model,
)

TFLITE_TEXT = (
    '--compute_unit gpu,npu --tflite_delegates qnn,gpu --tflite_options "enable_fallback=FALSE;'
    'number_of_threads=+4;qnn_htp_precision=kHtpQuantized" --max_profiler_time 30'
)


def test_wire_maps_carry_canonical_strings_of_user_set_keys_only() -> None:
    opts = parse_options(TFLITE_TEXT, job="profile", target_runtime="tflite")
    assert opts.tflite_options_wire() == {
        "enable_fallback": "false",
        "number_of_threads": "4",
        "qnn_htp_precision": "kHtpQuantized",
    }
    assert opts.qnn_options_wire() == {}
    qnn = parse_options(
        "--qnn_options context_enable_graphs=a,b;context_gpu_use_gl_buffers=True;"
        "default_graph_htp_vtcm_size=0",
        job="inference",
        target_runtime="qnn_context_binary",
    )
    assert qnn.qnn_options_wire() == {
        "context_enable_graphs": "a,b",
        "context_gpu_use_gl_buffers": "true",
        "default_graph_htp_vtcm_size": "0",
    }


def test_effective_sub_options_fill_in_seed_defaults() -> None:
    opts = parse_options(TFLITE_TEXT, job="profile", target_runtime="tflite")
    effective = opts.tflite_options_effective()
    assert effective["number_of_threads"] == 4
    assert effective["enable_fallback"] is False
    assert effective["allow_fp32_as_fp16"] is True
    assert effective["qnn_htp_performance_mode"] == "kHtpBurst"
    assert "qnn_htp_vtcm_size" not in effective  # no cloud default: the device decides
    assert opts.qnn_options_effective()["context_htp_performance_mode"] == "BURST"


def test_as_dict_is_json_and_lists_what_applies() -> None:
    opts = parse_options(TFLITE_TEXT, job="profile", target_runtime="tflite")
    record = json.loads(json.dumps(opts.as_dict()))
    assert record["requested"] == TFLITE_TEXT
    assert record["job"] == "profile" and record["target_runtime"] == "tflite"
    assert record["given"] == sorted(
        ["compute_unit", "tflite_delegates", "tflite_options", "max_profiler_time"]
    )
    effective = record["effective"]
    assert effective["compute_unit"] == ["npu", "gpu"]
    assert effective["max_profiler_iterations"] == 100
    assert effective["max_profiler_time"] == 30.0
    assert effective["tflite_options"]["enable_fallback"] is False
    assert effective["tflite_options"]["release_dynamic_tensors"] is False
    for not_here in ("qnn_options", "onnx_execution_providers", "quantize_io", "target_runtime"):
        assert not_here not in effective
    assert parse_options(record["canonical"], job="profile", target_runtime="tflite") == opts


def test_as_dict_for_compile() -> None:
    opts = parse_options(
        "--target_runtime qnn_context_binary", job="compile", target_runtime="tflite"
    )
    effective = opts.as_dict()["effective"]
    assert effective["target_runtime"] == "qnn_context_binary"
    assert effective["qnn_context_binary_vtcm"] == 4
    assert effective["qnn_context_binary_optimization_level"] == 2
    assert effective["quantize_full_type"] is None
    assert "max_profiler_time" not in effective


def test_canonical_string_is_stable_and_quoted() -> None:
    opts = parse_options(TFLITE_TEXT, job="profile", target_runtime="tflite")
    assert opts.to_option_string() == (
        "--compute_unit=npu,gpu --tflite_delegates=qnn,gpu "
        "--tflite_options='enable_fallback=false;number_of_threads=4;qnn_htp_precision=kHtpQuantized'"
        " --max_profiler_time=30.0"
    )
    flags = parse_options("--quantize_io false", job="compile", target_runtime="tflite")
    assert flags.to_option_string() == "--quantize_io=false"


def test_options_are_frozen_and_hashable() -> None:
    opts = parse_options(TFLITE_TEXT, job="profile", target_runtime="tflite")
    again = parse_options(opts.to_option_string(), job="profile", target_runtime="tflite")
    assert hash(opts) == hash(again)
    assert opts.requested != again.requested  # not part of equality
    with pytest.raises(AttributeError):
        opts.compute_unit = ("cpu",)  # type: ignore[misc]
    with pytest.raises(TypeError):
        opts.tflite_options["force_opengl"] = True  # type: ignore[index]


def test_stored_form_is_json_of_what_the_user_set() -> None:
    opts = parse_options(TFLITE_TEXT, job="profile", target_runtime="tflite")
    stored = json.loads(json.dumps(opts.to_spec()))
    assert stored["given"]["tflite_options"]["number_of_threads"] == 4
    assert stored["given"]["compute_unit"] == ["npu", "gpu"]
    assert "max_profiler_iterations" not in stored["given"]  # a default, not written
    rebuilt = Options.from_spec(stored)
    assert rebuilt == opts
    assert rebuilt.requested == TFLITE_TEXT
    assert rebuilt.max_profiler_iterations == 100


@pytest.mark.parametrize(
    "damage",
    [
        {"job": "train"},
        {"given": {"no_such_option": 1}},
        {"given": {"compute_unit": "npu"}},  # a list stored as text
        {"given": {"tflite_options": {"no_such_sub_option": 1}}},
        {"target_runtime": None, "job": None},
    ],
)
def test_a_stored_form_from_elsewhere_is_our_error(damage: dict) -> None:
    stored = {**parse_options("", job="profile", target_runtime="onnx").to_spec(), **damage}
    with pytest.raises(InternalError, match="stored"):
        Options.from_spec(stored)


def test_given_records_options_even_at_their_default() -> None:
    opts = parse_options("--max_profiler_iterations 100", job="profile", target_runtime="tflite")
    assert opts.given == {"max_profiler_iterations"}
    assert opts != parse_options(None, job="profile", target_runtime="tflite")


# -------------------------------------------------------------- model files


@pytest.mark.parametrize(
    ("path", "runtime"),
    [
        ("model.tflite", "tflite"),
        ("dir/model.onnx", "onnx"),
        ("model.bin", "qnn_context_binary"),
        ("libmodel.so", "qnn_lib_aarch64_android"),
        (Path("/x/MODEL.TFLITE"), "tflite"),
        (".bin", "qnn_context_binary"),
        (".so", "qnn_lib_aarch64_android"),
    ],
)
def test_target_runtime_for_model(path: str, runtime: str) -> None:
    assert target_runtime_for_model(path) == runtime


@pytest.mark.parametrize(
    ("path", "runtime"),
    [
        ("model.pt", "tflite"),
        ("model.onnx", "tflite"),
        ("model.aimet_onnx", "tflite"),
        ("model.aimet_onnx/", "tflite"),
        ("model.aimet_pt", "qnn_lib_aarch64_android"),
        (".aimet_pt", "qnn_lib_aarch64_android"),
    ],
)
def test_default_compile_target(path: str, runtime: str) -> None:
    assert default_compile_target(path) == runtime


@pytest.mark.parametrize("path", ["model.pb", "model", "model.tflite.zip"])
def test_unknown_model_extension_names_file_and_accepted(path: str) -> None:
    with pytest.raises(UserError) as info:
        target_runtime_for_model(path)
    assert path in str(info.value)
    assert ".tflite, .onnx, .bin, .so" in str(info.value)
    with pytest.raises(UserError, match=".pt, .onnx, .aimet_onnx, .aimet_pt"):
        default_compile_target(path)


def test_tflite_is_not_a_compile_source() -> None:
    with pytest.raises(UserError, match="model.tflite"):
        default_compile_target("model.tflite")


def test_as_dict_names_the_sub_options_the_user_set() -> None:
    from controller.options import parse_options

    record = parse_options(
        "--qnn_options context_priority=HIGH", job="profile", target_runtime="qnn_context_binary"
    ).as_dict()
    assert record["sub_options_set"] == {"qnn_options": ["context_priority"]}
    # the cloud service's defaults fill "effective", but they are marked as not set by the user
    assert record["effective"]["qnn_options"]["default_graph_htp_vtcm_size"] == 4
