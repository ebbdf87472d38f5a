"""ONNX Runtime runtime: real ORT, real QNN EP, the real QNN HTP simulator; tiny models."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from agent.errors import (
    ArtifactNotFoundError,
    InvalidModelError,
    InvalidOptionError,
    RuntimeUnavailableError,
)
from agent.runtimes import qnn_context
from agent.runtimes.base import AppliedConfig, RunConfig, Runtime
from agent.runtimes.onnx_runtime import OnnxRuntime
from agent.runtimes.qnn_ep import QNN_EP_NAME, register_qnn_ep
from agent.runtimes.qnn_profile_csv import execution_layers, parse_qnn_profile_csv
from controller.samples.onnx_models import write_tiny_cnn_onnx, write_tiny_cnn_qdq_onnx

# SM8550 (Snapdragon 8 Gen 2), as device_profiles/ describes it.
SOC_MODEL, HTP_ARCH = "43", "73"
CPU_EP = "CPUExecutionProvider"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("onnx_models")
    return {
        "fp32": write_tiny_cnn_onnx(root / "tiny_cnn.onnx"),
        "dynamic": write_tiny_cnn_onnx(root / "tiny_cnn_dynamic.onnx", dynamic_batch=True),
        "qdq": write_tiny_cnn_qdq_onnx(root / "tiny_cnn_qdq.onnx"),
    }


@pytest.fixture(scope="module")
def context_model(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_ctx.onnx`` + ``tiny_ctx_qnn.bin`` from ORT's EP-context generation on HTP."""
    out = tmp_path_factory.mktemp("ep_context") / "tiny_ctx.onnx"
    options = ort.SessionOptions()
    options.add_session_config_entry("ep.context_enable", "1")
    options.add_session_config_entry("ep.context_embed_mode", "0")
    options.add_session_config_entry("ep.context_file_path", str(out))
    options.add_provider_for_devices(register_qnn_ep(ort), {"backend_type": "htp"})
    ort.InferenceSession(str(models["qdq"]), sess_options=options)
    assert out.is_file() and out.with_name("tiny_ctx_qnn.bin").is_file()
    return out


def config(tmp_path: Path, **kwargs: object) -> RunConfig:
    return RunConfig(workdir=tmp_path / "work", **kwargs)  # type: ignore[arg-type]


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((1, 3, 32, 32), dtype=np.float32)


def run_once(
    model_path: Path, cfg: RunConfig, feed: np.ndarray
) -> tuple[dict[str, np.ndarray], AppliedConfig]:
    loaded = OnnxRuntime().load(model_path, cfg)
    try:
        loaded.set_inputs({loaded.inputs[0].name: feed})
        loaded.run()
        return loaded.get_outputs(), loaded.applied
    finally:
        loaded.close()


def test_info_lists_eps_and_qnn_backends() -> None:
    runtime: Runtime = OnnxRuntime()  # mypy checks the protocol
    info = runtime.info()
    assert info.available and info.version == ort.__version__
    assert {CPU_EP, QNN_EP_NAME} <= set(info.accelerators)
    assert "htp" in info.backends and "libQnnHtp.so" in info.detail


def test_cpu_run_matches_a_direct_inference_session(models: dict[str, Path], tmp_path) -> None:
    cfg = config(tmp_path, compute_units=("cpu",))
    loaded = OnnxRuntime().load(models["fp32"], cfg)
    assert loaded.applied.accelerators == [CPU_EP]
    assert loaded.applied.fallbacks == []
    assert [(s.name, s.shape, s.dtype) for s in loaded.inputs] == [
        ("image", (1, 3, 32, 32), "float32")
    ]
    direct = ort.InferenceSession(str(models["fp32"]), providers=[CPU_EP])
    for seed in (1, 2):  # rebinding inputs changes what run() sees
        loaded.set_inputs({"image": image(seed)})
        loaded.run()
        expected = direct.run(None, {"image": image(seed)})[0]
        np.testing.assert_allclose(loaded.get_outputs()["probs"], expected, rtol=1e-6)
    loaded.close()


def test_qdq_model_runs_on_the_htp_npu(models: dict[str, Path], tmp_path) -> None:
    cfg = config(tmp_path, compute_units=("npu",))
    outputs, applied = run_once(models["qdq"], cfg, image())
    assert applied.accelerators[0] == QNN_EP_NAME
    assert applied.settings["qnn.backend_type"] == "htp"
    assert "qnn.enable_htp_fp16_precision" not in applied.settings  # QDQ needs no fp16
    cpu = ort.InferenceSession(str(models["qdq"]), providers=[CPU_EP]).run(None, {"image": image()})
    np.testing.assert_allclose(outputs["probs"], cpu[0], atol=0.02)


def test_qdq_profile_has_npu_layers_with_cycles(models: dict[str, Path], tmp_path) -> None:
    cfg = config(tmp_path, compute_units=("npu",))
    iterations = OnnxRuntime().profile_layers(models["qdq"], cfg, {"image": image()}, 3)
    assert len(iterations) == 3
    for iteration in iterations:
        layers = iteration.layers
        assert sum(layer.execution_time_us for layer in layers) <= 1.05 * iteration.wall_time_us
        npu = [layer for layer in layers if layer.compute_unit == "NPU"]
        assert {"Conv", "Gemm", "Softmax"} <= {layer.type for layer in npu}
        assert all(layer.execution_cycles is not None for layer in npu)
        assert sum(layer.execution_cycles or 0 for layer in npu) > 0
        # graph I/O (de)quantization is offloaded to the CPU EP and still shows up
        assert {layer.type for layer in layers if layer.compute_unit == "CPU"} == {
            "QuantizeLinear",
            "DequantizeLinear",
        }
    assert (cfg.workdir / "qnn_profile.csv").is_file()


def test_cpu_profile_has_one_list_per_iteration(models: dict[str, Path], tmp_path) -> None:
    cfg = config(tmp_path, compute_units=("cpu",))
    iterations = OnnxRuntime().profile_layers(models["fp32"], cfg, {"image": image()}, 4)
    assert len(iterations) == 4
    for iteration in iterations:
        layers = iteration.layers
        assert sum(layer.execution_time_us for layer in layers) <= 1.05 * iteration.wall_time_us
        assert {layer.compute_unit for layer in layers} == {"CPU"}
        assert {"Conv", "Gemm", "Softmax"} <= {layer.type for layer in layers}
        assert all(layer.execution_cycles is None for layer in layers)


def test_fp32_model_on_htp_uses_fp16_with_the_soc_model(models: dict[str, Path], tmp_path) -> None:
    cfg = config(tmp_path, compute_units=("npu",), soc_model=SOC_MODEL, htp_arch=HTP_ARCH)
    outputs, applied = run_once(models["fp32"], cfg, image())
    assert applied.accelerators == [QNN_EP_NAME]  # every node, none left to the CPU
    assert applied.settings["qnn.enable_htp_fp16_precision"] == "1"
    assert applied.settings["qnn.soc_model"] == SOC_MODEL
    cpu = ort.InferenceSession(str(models["fp32"]), providers=[CPU_EP]).run(
        None, {"image": image()}
    )
    np.testing.assert_allclose(outputs["probs"], cpu[0], atol=2e-3)


def test_fp32_model_without_soc_model_warns_about_fp16(models: dict[str, Path], tmp_path) -> None:
    _, applied = run_once(models["fp32"], config(tmp_path, compute_units=("npu",)), image())
    assert any("enable_htp_fp16_precision" in warning for warning in applied.warnings)


def test_dynamic_batch_is_pinned_so_qnn_takes_the_nodes(models: dict[str, Path], tmp_path) -> None:
    cfg = config(tmp_path, compute_units=("npu",), input_shapes={"image": (1, 3, 32, 32)})
    loaded = OnnxRuntime().load(models["dynamic"], cfg)
    settings = loaded.applied.settings
    assert settings["free_dimension_overrides"] == "batch=1"
    assert settings["nodes.QNNExecutionProvider"] == "10"
    assert f"nodes.{CPU_EP}" not in settings
    assert loaded.inputs[0].shape == (1, 3, 32, 32)
    assert loaded.outputs[0].shape == (1, 10)
    loaded.close()


def test_dynamic_dim_without_shape_is_rejected_for_qnn(models: dict[str, Path], tmp_path) -> None:
    with pytest.raises(InvalidOptionError, match=r"input 'image' dim 0 \(batch\)"):
        OnnxRuntime().load(models["dynamic"], config(tmp_path, compute_units=("npu",)))


def test_dynamic_dim_stays_dynamic_on_cpu(models: dict[str, Path], tmp_path) -> None:
    loaded = OnnxRuntime().load(models["dynamic"], config(tmp_path, compute_units=("cpu",)))
    assert loaded.inputs[0].shape == (-1, 3, 32, 32)
    loaded.close()


def test_qnn_options_reach_the_qnn_ep(models: dict[str, Path], tmp_path) -> None:
    options = {"context_htp_performance_mode": "BALANCED", "context_priority": "HIGH"}
    cfg = config(tmp_path, compute_units=("npu",), qnn_options=options)
    _, applied = run_once(models["qdq"], cfg, image())
    # read back from the session's own config, where the plugin EP keeps its options
    assert applied.settings["qnn.htp_performance_mode"] == "balanced"
    assert applied.settings["qnn.qnn_context_priority"] == "high"
    assert applied.warnings == []


def test_unmappable_qnn_option_is_a_named_warning(models: dict[str, Path], tmp_path) -> None:
    cfg = config(
        tmp_path, compute_units=("npu",), qnn_options={"default_graph_htp_num_hvx_threads": "2"}
    )
    _, applied = run_once(models["qdq"], cfg, image())
    assert any("default_graph_htp_num_hvx_threads" in warning for warning in applied.warnings)


def test_qnn_options_on_a_cpu_only_run_are_warned(models: dict[str, Path], tmp_path) -> None:
    cfg = config(
        tmp_path, compute_units=("cpu",), qnn_options={"context_htp_performance_mode": "BURST"}
    )
    _, applied = run_once(models["fp32"], cfg, image())
    assert applied.warnings == [
        "qnn_options context_htp_performance_mode=BURST not applied: no QNN backend in use "
        "(CPU only)"
    ]


def test_unknown_or_bad_qnn_options_are_rejected(models: dict[str, Path], tmp_path) -> None:
    with pytest.raises(InvalidOptionError, match="no_such_option"):
        OnnxRuntime().load(models["qdq"], config(tmp_path, qnn_options={"no_such_option": "1"}))
    with pytest.raises(InvalidOptionError, match="context_priority"):
        OnnxRuntime().load(models["qdq"], config(tmp_path, qnn_options={"context_priority": "X"}))


def test_qnn_gpu_backend_that_cannot_start_falls_back(models: dict[str, Path], tmp_path) -> None:
    cfg = config(tmp_path, onnx_execution_providers=("qnn-gpu",))
    outputs, applied = run_once(models["fp32"], cfg, image())
    if applied.accelerators[0] == QNN_EP_NAME:
        pytest.skip("this machine has a GPU the QNN GPU backend can use")
    assert applied.accelerators == [CPU_EP]
    assert len(applied.fallbacks) == 1 and "libQnnGpu.so" in applied.fallbacks[0]
    assert outputs["probs"].shape == (1, 10)


def test_bare_context_binary_loads_and_runs(
    context_model: Path, models: dict[str, Path], tmp_path: Path
) -> None:
    # Alone in its directory: the wrapper comes from the binary's own metadata.
    binary = shutil.copy(context_model.with_name("tiny_ctx_qnn.bin"), tmp_path / "model.bin")
    loaded = OnnxRuntime().load(Path(binary), config(tmp_path))
    assert loaded.applied.accelerators == [QNN_EP_NAME]
    assert [(s.name, s.shape, s.dtype) for s in loaded.inputs] == [
        ("image", (1, 3, 32, 32), "uint8")
    ]
    # A bare binary takes quantized input; the _ctx.onnx wraps it in CPU (de)quantization.
    scale, zero = _qparams(models["qdq"], "image")
    quantized = np.clip(np.round(image() / scale) + zero, 0, 255).astype(np.uint8)
    loaded.set_inputs({"image": quantized})
    loaded.run()
    raw = loaded.get_outputs()["probs"]
    loaded.close()
    dequantized = ((quantized.astype(np.float32) - zero) * scale).astype(np.float32)
    reference, _ = run_once(context_model, config(tmp_path), dequantized)
    out_scale, out_zero = _qparams(models["qdq"], "probs")
    expected = np.round(reference["probs"] / out_scale) + out_zero
    np.testing.assert_allclose(raw.astype(np.float32), expected, atol=1)


def test_context_binary_graph_selection_and_backend(context_model: Path, tmp_path) -> None:
    binary = context_model.with_name("tiny_ctx_qnn.bin")
    info = qnn_context.read_context_binary(binary)
    assert info.backend_id == 6 and len(info.graphs) == 1
    with pytest.raises(InvalidOptionError, match="nope"):
        OnnxRuntime().load(binary, config(tmp_path, qnn_options={"context_enable_graphs": "nope"}))
    with pytest.raises(InvalidOptionError, match="htp"):
        OnnxRuntime().load(binary, config(tmp_path, compute_units=("cpu",)))


def test_wrapper_is_a_valid_onnx_model(context_model: Path) -> None:
    info = qnn_context.read_context_binary(context_model.with_name("tiny_ctx_qnn.bin"))
    model = onnx.load_from_string(qnn_context.wrapper_model_bytes(info.graphs[0], "x.bin"))
    (node,) = model.graph.node
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert (node.op_type, node.domain, node.name) == (
        "EPContext",
        "com.microsoft",
        info.graphs[0].name,
    )
    assert attributes == {
        "embed_mode": 0,
        "ep_cache_context": b"x.bin",
        "main_context": 1,
        "source": QNN_EP_NAME.encode(),
    }
    assert [i.name for i in model.graph.input] == ["image"]


@pytest.mark.parametrize("suffix", [".onnx", ".bin"])
def test_corrupt_model_is_an_invalid_model(tmp_path: Path, suffix: str) -> None:
    broken = tmp_path / f"broken{suffix}"
    broken.write_bytes(b"\x08\x07garbage, not a model" * 10)
    with pytest.raises(InvalidModelError, match=f"broken{suffix}"):
        OnnxRuntime().load(broken, config(tmp_path))


def test_without_onnxruntime_the_runtime_is_unavailable(
    models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what `import` sees when absent
    info = OnnxRuntime().info()
    assert not info.available and "onnxruntime" in info.detail
    with pytest.raises(RuntimeUnavailableError):
        OnnxRuntime().load(models["fp32"], config(tmp_path))


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError):
        OnnxRuntime().load(tmp_path / "absent.onnx", config(tmp_path))


def test_qnn_profile_csv_parsing(tmp_path: Path) -> None:
    csv_file = tmp_path / "qnn.csv"
    csv_file.write_text(
        "Msg Timestamp,Message,Time,Unit of Measurement,Timing Source,Event Level,"
        "Event Identifier\n"
        "0,FINALIZE,11057,US,BACKEND,ROOT,QNN (finalize) time\n"
        "0,BACKEND,400,CYCLES,BACKEND,ROOT,Accelerator (execute) time (cycles)\n"
        "0,NODE,100,CYCLES,BACKEND,SUB-EVENT,Input OpId_2 (cycles)\n"
        "0,NODE,300,CYCLES,BACKEND,SUB-EVENT,conv1_token_1:OpId_23 (cycles)\n"
        "0,BACKEND,80,US,BACKEND,ROOT,Accelerator (execute) time\n"
        "0,EXECUTE,90,US,BACKEND,ROOT,QNN (execute) time\n"
    )
    (execution,) = parse_qnn_profile_csv(csv_file)
    assert (execution.accelerator_cycles, execution.accelerator_us) == (400, 80.0)
    layers = execution_layers(execution, "NPU", {"conv1_token_1": "Conv"})
    assert [(x.name, x.type, x.execution_cycles) for x in layers] == [
        ("Input OpId_2", "Input", 100),
        ("conv1_token_1", "Conv", 300),
    ]
    assert [x.execution_time_us for x in layers] == [20.0, 60.0]


def _qparams(qdq_model: Path, tensor: str) -> tuple[float, int]:
    """Scale and zero point of a graph input/output of the QDQ sample model."""
    initializers = {
        i.name: numpy_helper.to_array(i) for i in onnx.load(qdq_model).graph.initializer
    }
    return float(initializers[f"{tensor}_scale"]), int(initializers[f"{tensor}_zero_point"])
