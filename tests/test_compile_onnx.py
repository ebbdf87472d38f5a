"""Compile jobs to ONNX on the host: static shapes, output names, quantization, refusals.

Real onnx, real onnxruntime quantization, tiny models; compiled models are run with
ONNX Runtime's CPU EP to show they work, not only that they were written.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import controller.compile as compile_pkg
from controller.compile import QUANTIZE_SCHEMES, CompileResult, compile_model
from controller.compile._quantize import RANDOM_CALIBRATION_NOTE, QuantScheme, quant_type
from controller.errors import UserError
from controller.options import Options, default_compile_target, parse_options
from controller.samples.onnx_models import write_tiny_cnn_onnx, write_tiny_cnn_qdq_onnx

SHAPE = (1, 3, 32, 32)
CPU = ["CPUExecutionProvider"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compile_src")
    return {
        "fp32": write_tiny_cnn_onnx(root / "tiny.onnx"),
        "dynamic": write_tiny_cnn_onnx(root / "dynamic" / "tiny.onnx", dynamic_batch=True),
        "qdq": write_tiny_cnn_qdq_onnx(root / "qdq" / "tiny.onnx"),
    }


def options(text: str, source: Path = Path("m.onnx")) -> Options:
    return parse_options(text, job="compile", target_runtime=default_compile_target(source))


def compile_onnx(source: Path, text: str, tmp_path: Path, **kwargs: object) -> CompileResult:
    call: dict[str, object] = {
        "device_profile": None,
        "input_specs": None,
        "calibration_data": None,
    }
    call.update(kwargs)
    return compile_model(source, options(text, source), workdir=tmp_path / "out", **call)  # type: ignore[arg-type]


def image(seed: int = 0, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def run_cpu(path: Path, feed: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=CPU)
    return np.asarray(session.run(None, {session.get_inputs()[0].name: feed})[0])


def test_public_api_is_sorted_and_complete() -> None:
    assert compile_pkg.__all__ == sorted(compile_pkg.__all__)
    assert all(hasattr(compile_pkg, name) for name in compile_pkg.__all__)


def test_onnx_target_makes_shapes_static_and_renames_outputs(models, tmp_path) -> None:
    messages: list[str] = []
    result = compile_onnx(
        models["dynamic"],
        "--target_runtime onnx --output_names scores",
        tmp_path,
        input_specs={"image": ((4, 3, 32, 32), "float32")},
        progress=messages.append,
    )
    assert result.path == tmp_path / "out" / "tiny.onnx" and result.target_runtime == "onnx"
    model = onnx.load(str(result.path))
    onnx.checker.check_model(model, full_check=True)
    [(name, shape)] = [
        (i.name, [d.dim_value for d in i.type.tensor_type.shape.dim]) for i in model.graph.input
    ]
    assert (name, shape) == ("image", [4, 3, 32, 32])
    assert result.details["outputs"] == [{"name": "scores", "shape": [4, 10], "dtype": "float32"}]
    assert result.details["renamed_outputs"] == {"probs": "scores"}
    batch = image(1, (4, 3, 32, 32))
    session = ort.InferenceSession(str(result.path), providers=CPU)
    assert [o.name for o in session.get_outputs()] == ["scores"]
    np.testing.assert_allclose(
        session.run(None, {"image": batch})[0], run_cpu(models["dynamic"], batch), rtol=1e-6
    )
    assert messages[:3] == ["loading tiny.onnx", "making shapes static", "renaming outputs"]
    assert result.notes == []


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ({}, r"no shape for input\(s\) \['image'\]"),
        ({"image": SHAPE, "mask": (1, 4)}, r"names \['mask'\].*no such input"),
        ({"image": (1, 3, 32)}, r"input 'image' has rank 4"),
        ({"image": (1, 4, 32, 32)}, r"dim 1 is fixed at 3"),
        ({"image": (SHAPE, "int64")}, r"dtype int64, but the model's input is float32"),
        ({"image": (1, 3, 0, 32)}, r"input_specs\['image'\].*positive integers"),
    ],
    ids=["missing", "extra", "rank", "fixed-dim", "dtype", "zero-dim"],
)
def test_bad_input_specs_name_the_input(models, tmp_path, specs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        compile_onnx(models["dynamic"], "--target_runtime onnx", tmp_path, input_specs=specs)


def test_output_names_must_fit_the_outputs(models, tmp_path) -> None:
    with pytest.raises(
        UserError, match=r"2 name\(s\) given but the model has 1 output\(s\) \(probs\)"
    ):
        compile_onnx(models["fp32"], "--target_runtime onnx --output_names a,b", tmp_path)
    with pytest.raises(UserError, match=r"\['image'\] already name\(s\) another tensor"):
        compile_onnx(models["fp32"], "--target_runtime onnx --output_names image", tmp_path)


def test_onnx_target_keeps_a_dynamic_model_without_specs(models, tmp_path) -> None:
    result = compile_onnx(models["dynamic"], "--target_runtime onnx", tmp_path)
    assert result.details["inputs"] == [
        {"name": "image", "shape": ["batch", 3, 32, 32], "dtype": "float32"}
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("model.pt", "(TorchScript model needs input_specs|devicelab\\[torch\\])"),
        ("model.aimet_pt", "PyTorch and AIMET"),
        ("model.tflite", r"compile takes ONNX \(.onnx\), TorchScript \(.pt\)"),
        ("absent.onnx", "no such model file"),
    ],
)
def test_sources_other_than_onnx_are_refused(tmp_path, source: str, message: str) -> None:
    path = tmp_path / source
    if not source.startswith("absent"):
        path.write_bytes(b"not a model")
    with pytest.raises(UserError, match=message):
        compile_model(
            path,
            parse_options("--target_runtime onnx", job="compile", target_runtime="tflite"),
            device_profile=None,
            input_specs=None,
            calibration_data=None,
            workdir=tmp_path / "out",
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "needs onnx2tf, which is not installed"),  # .onnx defaults to tflite (as the cloud)
        ("--target_runtime tflite", "DEVICELAB_ONNX2TF="),
        ("--target_runtime qnn_lib_aarch64_android", "QNN_SDK_ROOT is not set"),
    ],
)
def test_targets_this_host_cannot_build_are_refused(
    models, tmp_path, monkeypatch, text: str, message: str
) -> None:
    from controller.compile import _tflite

    monkeypatch.setattr(_tflite, "onnx2tf_command", lambda: None)  # as on a host without it
    monkeypatch.delenv("QNN_SDK_ROOT", raising=False)
    with pytest.raises(UserError, match=message):
        compile_onnx(models["fp32"], text, tmp_path)


def _weight_and_activation_types(model: onnx.ModelProto) -> tuple[set[str], set[str]]:
    """numpy names of the quantized weights, and of the activations' zero points."""
    inits = {init.name: init for init in model.graph.initializer}
    weights, activations = set(), set()
    for node in model.graph.node:
        if (
            node.op_type == "DequantizeLinear"
            and node.input[0] in inits
            and "_b_" not in node.input[0]
        ):
            weights.add(onnx.helper.tensor_dtype_to_np_dtype(inits[node.input[0]].data_type).name)
        if node.op_type == "QuantizeLinear":
            activations.add(
                onnx.helper.tensor_dtype_to_np_dtype(inits[node.input[2]].data_type).name
            )
    return weights, activations


@pytest.mark.parametrize(
    ("kind", "weights", "activations"),
    [
        ("int8", "int8", "uint8"),
        ("int16", "int16", "uint16"),
        ("w8a16", "int8", "uint16"),
        ("w4a8", "int4", "uint8"),
        ("w4a16", "int4", "uint16"),
    ],
)
def test_each_quantize_type(models, tmp_path, kind: str, weights: str, activations: str) -> None:
    result = compile_onnx(
        models["fp32"], f"--target_runtime onnx --quantize_full_type {kind}", tmp_path
    )
    model = onnx.load(str(result.path))
    assert _weight_and_activation_types(model) == ({weights}, {activations})
    settings = result.details["quantization"]
    assert (settings["type"], settings["format"], settings["per_channel"]) == (kind, "QDQ", True)
    assert settings["onnxruntime"] == ort.__version__  # this environment's quantizer, recorded
    assert settings["calibration"] == "random calibration" and settings["samples"] == 8
    assert (
        RANDOM_CALIBRATION_NOTE in result.notes
        and "performance numbers only" in RANDOM_CALIBRATION_NOTE
    )
    assert result.details["inputs"][0]["dtype"] == "float32"  # float I/O without --quantize_io
    # Random calibration on [0, 1) images fits [0, 1) inputs well enough to stay close.
    np.testing.assert_allclose(
        run_cpu(result.path, image()), run_cpu(models["fp32"], image()), atol=0.03
    )


def test_scheme_table_covers_the_option_choices() -> None:
    from controller.options.table import OPTIONS_BY_NAME

    assert tuple(QUANTIZE_SCHEMES) == OPTIONS_BY_NAME["quantize_full_type"].choices


def test_a_type_onnxruntime_lacks_is_a_user_error() -> None:
    old_ort = SimpleNamespace(QuantType=SimpleNamespace(QUInt8=1))  # an ORT without int4
    with pytest.raises(UserError, match=r"w4a8 needs QuantType.QInt4 in onnxruntime.quantization"):
        quant_type(old_ort, QuantScheme("w4a8", "QUInt8", "QInt4"), "QInt4")


@pytest.mark.parametrize(("kind", "dtype"), [("int8", np.uint8), ("w8a16", np.uint16)])
def test_quantize_io_gives_quantized_inputs_and_outputs(
    models, tmp_path, kind: str, dtype: type
) -> None:
    text = f"--target_runtime onnx --quantize_full_type {kind} --quantize_io"
    result = compile_onnx(models["fp32"], text, tmp_path)
    session = ort.InferenceSession(str(result.path), providers=CPU)
    assert [(v.name, v.type) for v in (*session.get_inputs(), *session.get_outputs())] == [
        ("image", f"tensor({np.dtype(dtype).name})"),
        ("probs", f"tensor({np.dtype(dtype).name})"),
    ]
    nodes = onnx.load(str(result.path)).graph.node
    # No Q after the input, no DQ before the output: the model reads and returns integers.
    assert [n.op_type for n in nodes if "image" in n.input] == ["DequantizeLinear"]
    assert [n.op_type for n in nodes if "probs" in n.output] == ["QuantizeLinear"]
    io = {entry["name"]: entry for entry in result.details["quantized_io"]}
    feed = _quantize(image(), io["image"], dtype)
    raw = session.run(None, {"image": feed})[0]
    probs = (raw.astype(np.float32) - io["probs"]["zero_point"]) * io["probs"]["scale"]
    np.testing.assert_allclose(probs, run_cpu(models["fp32"], image()), atol=0.03)


def _quantize(values: np.ndarray, io: dict, dtype: type) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.round(values / io["scale"]) + io["zero_point"], info.min, info.max).astype(
        dtype
    )


def test_quantize_io_on_a_qdq_source_strips_its_boundary(models, tmp_path) -> None:
    result = compile_onnx(models["qdq"], "--target_runtime onnx --quantize_io", tmp_path)
    assert [(io["name"], io["dtype"]) for io in result.details["quantized_io"]] == [
        ("image", "uint8"),
        ("probs", "uint8"),
    ]
    assert result.notes == []  # nothing was calibrated


def test_quantize_io_on_a_float_model_keeps_it_float_and_says_so(models, tmp_path) -> None:
    # qai-hub-models sends it on the float ONNX compile that feeds a quantize job.
    result = compile_onnx(models["fp32"], "--target_runtime onnx --quantize_io", tmp_path)
    assert result.details["inputs"][0]["dtype"] == "float32"
    assert any("nothing to keep quantized" in note for note in result.notes)


def test_an_already_quantized_model_is_not_quantized_again(models, tmp_path) -> None:
    with pytest.raises(UserError, match="already quantized"):
        compile_onnx(models["qdq"], "--target_runtime onnx --quantize_full_type int8", tmp_path)


def test_calibration_dataset_replaces_random_data(models, tmp_path) -> None:
    data = {"image": [image(seed) for seed in range(3)]}
    result = compile_onnx(
        models["fp32"],
        "--target_runtime onnx --quantize_full_type int8",
        tmp_path,
        calibration_data=data,
    )
    assert result.details["quantization"]["calibration"] == "calibration dataset of 3 samples"
    assert RANDOM_CALIBRATION_NOTE not in result.notes
    np.testing.assert_allclose(
        run_cpu(result.path, image(1)), run_cpu(models["fp32"], image(1)), atol=0.03
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"img": [np.zeros(SHAPE, np.float32)]},
            r"missing inputs \['image'\], unknown inputs \['img'\]",
        ),
        ({"image": []}, "non-zero number of samples"),
        (
            {"image": [np.zeros((1, 3, 16, 16), np.float32)]},
            r"\['image'\]\[0\]: shape \(1, 3, 16, 16\)",
        ),
        ({"image": [np.zeros(SHAPE, np.complex64)]}, "dtype complex64 does not fit"),
    ],
    ids=["names", "empty", "shape", "dtype"],
)
def test_bad_calibration_data_names_the_problem(models, tmp_path, data: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        compile_onnx(
            models["fp32"],
            "--target_runtime onnx --quantize_full_type int8",
            tmp_path,
            calibration_data=data,
        )


def test_random_calibration_of_a_dynamic_model_needs_shapes(models, tmp_path) -> None:
    with pytest.raises(UserError, match=r"input 'image' has dynamic dims \['batch', 3, 32, 32\]"):
        compile_onnx(models["dynamic"], "--target_runtime onnx --quantize_full_type int8", tmp_path)


def test_compile_options_are_required(models, tmp_path) -> None:
    from controller.errors import InternalError

    profile_options = parse_options("", job="profile", target_runtime="onnx")
    with pytest.raises(InternalError, match="compile options"):
        compile_model(
            models["fp32"],
            profile_options,
            device_profile=None,
            input_specs=None,
            calibration_data=None,
            workdir=tmp_path,
        )


def test_channel_last_io_is_a_transpose_at_each_end_and_computes_the_same(tmp_path) -> None:
    from controller.compile._graph import make_channel_last
    from tests.test_compile_qnn import write_conv

    source = write_conv(tmp_path / "conv.onnx")  # x 1x3x8x8 -> y 1x4x8x8
    model = onnx.load(str(source))
    make_channel_last(model, ["x"], ["y"])
    graph = model.graph
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == [1, 8, 8, 3]
    assert [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim] == [1, 8, 8, 4]
    assert (graph.node[0].op_type, graph.node[-1].op_type) == ("Transpose", "Transpose")
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(tmp_path / "nhwc.onnx"))
    feed = image(shape=(1, 3, 8, 8))
    np.testing.assert_allclose(
        run_cpu(tmp_path / "nhwc.onnx", feed.transpose(0, 2, 3, 1)),
        run_cpu(source, feed).transpose(0, 2, 3, 1),
        atol=1e-6,
    )
