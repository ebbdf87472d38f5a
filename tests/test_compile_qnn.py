"""Compile jobs to QNN context binaries: real ORT EP-context generation on QNN's HTP
backend (the x86_64 simulator), and the bins run back through the agent's runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from agent.runtimes.base import RunConfig
from agent.runtimes.onnx_runtime import OnnxRuntime
from controller.compile import CompileResult, compile_model
from controller.devices.profiles import DeviceProfile, load_profiles
from controller.errors import UserError
from controller.options import parse_options
from controller.samples.onnx_models import write_tiny_cnn_onnx

QNN_EP, CPU = "QNNExecutionProvider", ["CPUExecutionProvider"]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def profiles() -> dict[str, DeviceProfile]:
    return {p.part_number: p for p in load_profiles()}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("qnn_src")
    return {
        "fp32": write_tiny_cnn_onnx(root / "tiny.onnx"),
        "dynamic": write_tiny_cnn_onnx(root / "dynamic" / "tiny.onnx", dynamic_batch=True),
        "conv": write_conv(root / "conv.onnx"),
        "hardmax": _write_with_hardmax(root / "hardmax.onnx"),
    }


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def write_conv(path: Path) -> Path:
    """x (1x3x8x8) -> Conv 3->4 -> Relu -> y (1x4x8x8): an output with a channel axis."""
    weights = np.random.default_rng(3).standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [onnx.numpy_helper.from_array(weights, "w")],
    )
    return _save(graph, path)


def _write_with_hardmax(path: Path) -> Path:
    """Relu -> Hardmax -> Neg: QNN's HTP has no Hardmax (measured with QNN 2.51)."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Hardmax", ["r"], ["h"], name="pick_max"),
        helper.make_node("Neg", ["h"], ["y"], name="neg"),
    ]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4, 4]) for n in ("x", "y")]
    return _save(helper.make_graph(nodes, "hardmax", io[:1], io[1:]), path)


def compile_bin(
    source: Path, text: str, profile: DeviceProfile | None, workdir: Path, **kwargs: object
) -> CompileResult:
    opts = parse_options(
        f"--target_runtime qnn_context_binary {text}", job="compile", target_runtime="tflite"
    )
    call: dict[str, object] = {"input_specs": None, "calibration_data": None}
    call.update(kwargs)
    return compile_model(source, opts, device_profile=profile, workdir=workdir, **call)  # type: ignore[arg-type]


def run_bin(
    binary: Path, feed: np.ndarray, workdir: Path
) -> tuple[np.ndarray, tuple[int, ...], str]:
    """One run of a bare ``.bin`` through the agent's runtime; output, input shape and dtype."""
    loaded = OnnxRuntime().load(binary, RunConfig(workdir=workdir / "run"))
    try:
        assert loaded.applied.accelerators == [QNN_EP]
        spec = loaded.inputs[0]
        loaded.set_inputs({spec.name: feed})
        loaded.run()
        return next(iter(loaded.get_outputs().values())), spec.shape, spec.dtype
    finally:
        loaded.close()


def image(seed: int = 0, shape: tuple[int, ...] = (1, 3, 32, 32)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def cpu(path: Path, feed: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=CPU)
    return np.asarray(session.run(None, {session.get_inputs()[0].name: feed})[0])


def test_quantized_bins_for_two_socs_load_run_and_differ(models, profiles, tmp_path) -> None:
    bins = {}
    for part in ("SM8550", "SM8650"):
        messages: list[str] = []
        result = compile_bin(
            models["fp32"],
            "--quantize_full_type int8",
            profiles[part],
            tmp_path / part,
            progress=messages.append,
        )
        assert (
            result.path == tmp_path / part / "tiny.bin"
            and result.target_runtime == "qnn_context_binary"
        )
        qnn = result.details["qnn"]
        assert qnn["embedded_config"]["soc_type"] == part
        assert qnn["session_settings"]["soc_model"] == str(profiles[part].soc_model)
        assert Path(qnn["context_model"]).is_file()  # the _ctx.onnx wrapper is kept beside
        label = f"{part} (soc_model {profiles[part].soc_model})"
        assert messages[-1] == f"generating QNN context binary for {label}"
        assert "quantizing (int8, random calibration)" in messages
        output, shape, dtype = run_bin(result.path, image(), tmp_path / part)
        assert (shape, dtype) == ((1, 3, 32, 32), "float32")  # float I/O without --quantize_io
        np.testing.assert_allclose(output, cpu(models["fp32"], image()), atol=0.03)
        bins[part] = result.path.read_bytes()
    assert bins["SM8550"] != bins["SM8650"]


def test_vtcm_and_optimization_level_reach_the_binary(models, profiles, tmp_path) -> None:
    text = (
        "--quantize_full_type int8 --qnn_context_binary_vtcm 2 "
        "--qnn_context_binary_optimization_level 3"
    )
    qnn = compile_bin(models["fp32"], text, profiles["SM8550"], tmp_path / "a").details["qnn"]
    assert qnn["session_settings"]["vtcm_mb"] == "2"
    assert qnn["session_settings"]["htp_graph_finalization_optimization_mode"] == "3"
    assert qnn["embedded_config"]["vtcm_size"] == str(2 * MIB)
    assert qnn["embedded_config"]["OpO"] == "3"
    maximum = compile_bin(
        models["fp32"],
        "--quantize_full_type int8 --qnn_context_binary_vtcm 0",
        profiles["SM8550"],
        tmp_path / "b",
    )
    assert maximum.details["qnn"]["embedded_config"]["vtcm_size"] == str(8 * MIB)
    assert "VTCM: the SM8550 maximum, 8 MB" in maximum.notes


def test_vtcm_beyond_the_soc(models, profiles, tmp_path) -> None:
    with pytest.raises(UserError, match="has 2 MB of VTCM; give at most 2"):
        compile_bin(
            models["fp32"],
            "--quantize_full_type int8 --qnn_context_binary_vtcm 4",
            profiles["QCS6490"],
            tmp_path,
        )
    # The cloud service's default of 4 MB is more than the QCS6490 has: its maximum is used instead.
    result = compile_bin(
        models["fp32"], "--quantize_full_type int8", profiles["QCS6490"], tmp_path / "default"
    )
    assert result.details["qnn"]["embedded_config"]["vtcm_size"] == str(2 * MIB)
    assert any("default 4 MB exceeds" in note for note in result.notes)


@pytest.fixture(params=["current", "managed"])
def local_runtime(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the context binary is generated: this process, or devicelab's managed runtime."""
    if request.param == "managed":
        request.getfixturevalue("managed_host_runtime")
    monkeypatch.setenv("DEVICELAB_LOCAL_RUNTIME", request.param)
    return str(request.param)


def test_fp32_model_becomes_an_fp16_binary(models, profiles, tmp_path, local_runtime) -> None:
    result = compile_bin(models["fp32"], "", profiles["SM8650"], tmp_path)
    assert result.details["qnn"]["session_settings"]["enable_htp_fp16_precision"] == "1"
    assert result.details["qnn"]["built_with"]["qnn_sdk"]  # the runtime's QNN SDK, read there
    assert result.details["versions"]["runtime"].startswith(local_runtime)
    assert any("fp16" in note for note in result.notes)
    output, shape, dtype = run_bin(result.path, image(), tmp_path)
    assert (shape, dtype) == ((1, 3, 32, 32), "float32")
    np.testing.assert_allclose(output, cpu(models["fp32"], image()), atol=2e-3)


def test_fp32_model_for_an_htp_without_fp16(models, profiles, tmp_path) -> None:
    with pytest.raises(UserError, match=r"QCS6490\) has no fp16.*--quantize_full_type"):
        compile_bin(models["fp32"], "", profiles["QCS6490"], tmp_path)


def test_quantize_io_makes_the_binary_take_integers(models, profiles, tmp_path) -> None:
    result = compile_bin(
        models["fp32"], "--quantize_full_type w8a16 --quantize_io", profiles["SM8550"], tmp_path
    )
    graph = result.details["qnn"]["graphs"][0]
    assert [(t["name"], t["dtype"]) for t in graph["inputs"] + graph["outputs"]] == [
        ("image", "uint16"),
        ("probs", "uint16"),
    ]
    io = {entry["name"]: entry for entry in result.details["quantized_io"]}
    feed = np.clip(np.round(image() / io["image"]["scale"]) + io["image"]["zero_point"], 0, 65535)
    raw, _, dtype = run_bin(result.path, feed.astype(np.uint16), tmp_path)
    assert dtype == "uint16"
    probs = (raw.astype(np.float32) - io["probs"]["zero_point"]) * io["probs"]["scale"]
    np.testing.assert_allclose(probs, cpu(models["fp32"], image()), atol=0.03)


def test_channel_last_input_and_output(models, profiles, tmp_path) -> None:
    data = {"x": [image(seed, (1, 3, 8, 8)) for seed in range(4)]}  # in the source's NCHW layout
    text = (
        "--quantize_full_type int8 --force_channel_last_input x "
        "--force_channel_last_output output_0"
    )
    result = compile_bin(models["conv"], text, profiles["SM8550"], tmp_path, calibration_data=data)
    assert result.details["channel_last"] == {"inputs": ["x"], "outputs": ["y"]}
    nchw = image(7, (1, 3, 8, 8))
    output, shape, _ = run_bin(
        result.path, np.ascontiguousarray(nchw.transpose(0, 2, 3, 1)), tmp_path
    )
    assert shape == (1, 8, 8, 3) and output.shape == (1, 8, 8, 4)
    expected = cpu(models["conv"], nchw).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(output, expected, atol=0.05)


def test_channel_last_needs_a_channel_axis(models, profiles, tmp_path) -> None:
    with pytest.raises(
        UserError, match=r"'probs' has rank 2 \[1, 10\]; channel-last needs rank >= 3"
    ):
        compile_bin(
            models["fp32"], "--force_channel_last_output output_0", profiles["SM8550"], tmp_path
        )


def test_ops_qnn_rejects_are_named(models, profiles, tmp_path, local_runtime) -> None:
    with pytest.raises(
        UserError, match=r"rejected 1 node\(s\) of op type\(s\) Hardmax \(nodes: pick_max\)"
    ):
        compile_bin(models["hardmax"], "", profiles["SM8550"], tmp_path)


def test_dynamic_inputs_need_static_shapes(models, profiles, tmp_path) -> None:
    with pytest.raises(UserError, match=r"input 'image' dim 0 \('batch'\) is dynamic.*input_specs"):
        compile_bin(models["dynamic"], "", profiles["SM8550"], tmp_path)
    result = compile_bin(
        models["dynamic"], "", profiles["SM8550"], tmp_path, input_specs={"image": (1, 3, 32, 32)}
    )
    assert result.details["inputs"][0]["shape"] == [1, 3, 32, 32]


@pytest.mark.parametrize(
    ("part", "text", "message"),
    [
        (None, "", "needs a target device"),
        ("x86_64", "", "has no Qualcomm HTP"),
        ("SM8550", "--compute_unit gpu", "runs on the NPU"),
    ],
)
def test_targets_without_an_htp_are_refused(
    models, profiles, tmp_path, part, text: str, message: str
) -> None:
    profile = profiles[part] if part else None
    with pytest.raises(UserError, match=message):
        compile_bin(models["fp32"], text, profile, tmp_path)
