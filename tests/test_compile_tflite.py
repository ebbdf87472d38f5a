"""The cloud service's default compile target (tflite) and the QNN model library target, as a
user's script submits them.

* PyTorch -> TFLite with litert-torch (the ``tflite-convert`` extra; CI installs it:
  ~1,100 MB, 35-50 s on top of torch). Skips, saying so, where it is not installed.
* ONNX -> TFLite with onnx2tf, from an environment of its own named by
  ``DEVICELAB_ONNX2TF`` (TensorFlow: 2,329 MB, 44 s to install, past CI's budget, so CI
  skips these, saying so).
* ``qnn_lib_aarch64_android`` needs Qualcomm's tools: refused at submit without them;
  with them (here: stand-ins for the QNN SDK's two tools and the NDK, which we do not
  ship, in tests/vendor_standins.py) the documented command lines run and the ``.so``
  becomes the target model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import controller as hub
from controller.compile import _tflite
from tests.torch_models import tiny_net
from tests.vendor_standins import write_android_ndk, write_qnn_host_tools

TIMEOUT_SEC = 240
FAST = "--compute_unit cpu --max_profiler_iterations 3"
PHONE = "Samsung Galaxy S23"
SPECS = {"image": (1, 3, 16, 16)}
HAS_LITERT_TORCH = (
    importlib.util.find_spec("torch") is not None
    and importlib.util.find_spec("litert_torch") is not None
)
needs_litert_torch = pytest.mark.skipif(
    not HAS_LITERT_TORCH,
    reason="torch / litert-torch not installed (pip install 'devicelab[tflite-convert]')",
)
needs_onnx2tf = pytest.mark.skipif(
    _tflite.onnx2tf_command() is None,
    reason=(
        "onnx2tf not installed: it needs TensorFlow in an environment of its own (2,329 MB, "
        "44 s here, past CI's budget); set DEVICELAB_ONNX2TF to its executable to run these"
    ),
)


def _compile(model: Any, options: str = "", **kwargs: Any) -> hub.Model:
    job = hub.submit_compile_job(model, hub.Device(PHONE), options=options, **kwargs)
    assert job.wait(TIMEOUT_SEC).success, job.get_status().message
    target = job.get_target_model()
    assert target is not None
    return target


def _run_tflite(path: str, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(path)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert tuple(inp["shape"]) == x.shape  # NCHW kept, as the source declares it
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(out["index"]))


def _profiles_here(target: hub.Model) -> None:
    profile = hub.submit_profile_job(target, hub.Device(), options=FAST).download_profile()
    assert profile["execution_summary"]["estimated_inference_time"] > 0


@needs_litert_torch
def test_traced_module_compiles_to_tflite_by_default_and_profiles(tmp_path: Path) -> None:
    import torch

    x = torch.rand(1, 3, 16, 16)
    traced = torch.jit.trace(tiny_net(), (x,))
    target = _compile(traced, input_specs=SPECS)  # no --target_runtime: tflite (as the cloud)
    assert target.model_type is hub.SourceModelType.TFLITE
    got = _run_tflite(target.download(str(tmp_path / "m.tflite")), x.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(got, tiny_net()(x).numpy(), rtol=1e-4, atol=1e-5)
    _profiles_here(target)


@needs_litert_torch
def test_exported_program_and_pt2_file_compile_to_tflite(tmp_path: Path) -> None:
    import torch

    program = torch.export.export(tiny_net(), (torch.rand(1, 3, 16, 16),))
    pt2 = tmp_path / "tiny.pt2"
    torch.export.save(program, str(pt2))
    for source in (program, pt2):
        target = _compile(source, "--target_runtime tflite")
        assert target.model_type is hub.SourceModelType.TFLITE
    _profiles_here(target)


@needs_litert_torch
def test_output_names_and_channel_last_input_apply_to_a_torch_to_tflite_compile(
    tmp_path: Path,
) -> None:
    import torch
    from ai_edge_litert.interpreter import Interpreter

    x = torch.rand(1, 3, 16, 16)
    traced = torch.jit.trace(tiny_net(), (x,))
    options = "--output_names scores --force_channel_last_input image"
    target = _compile(traced, options, input_specs=SPECS)
    interpreter = Interpreter(target.download(str(tmp_path / "m.tflite")))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert (inp["name"], tuple(inp["shape"])) == ("image", (1, 16, 16, 3))  # NHWC now
    assert out["name"] == "scores"
    interpreter.set_tensor(inp["index"], x.permute(0, 2, 3, 1).numpy())
    interpreter.invoke()
    with torch.no_grad():
        expected = tiny_net()(x).numpy()
    np.testing.assert_allclose(interpreter.get_tensor(out["index"]), expected, rtol=1e-4, atol=1e-5)


@needs_litert_torch
def test_quantization_is_refused_for_a_torch_to_tflite_compile() -> None:
    import torch

    traced = torch.jit.trace(tiny_net(), (torch.rand(1, 3, 16, 16),))
    job = hub.submit_compile_job(
        traced, hub.Device(PHONE), input_specs=SPECS, options="--quantize_full_type int8"
    )
    assert not job.wait(TIMEOUT_SEC).success
    assert "--quantize_full_type" in (job.get_status().message or "")


def test_missing_litert_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util as util

    real = util.find_spec
    monkeypatch.setattr(
        util, "find_spec", lambda name, *a: None if name == "litert_torch" else real(name, *a)
    )
    monkeypatch.delenv("DEVICELAB_RUNTIME_PYTHON", raising=False)  # asks this interpreter
    match = r"devicelab\[(tflite-convert|torch)\]"
    with pytest.raises(hub.UserError, match=match):
        _tflite.require("torchscript")


def test_onnx_to_tflite_without_onnx2tf_is_refused_at_submit(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_tflite, "onnx2tf_command", lambda: None)
    with pytest.raises(hub.UserError, match="needs onnx2tf.*DEVICELAB_ONNX2TF"):
        hub.submit_compile_job(models_dir / "tiny_cnn.onnx", hub.Device(PHONE))


@needs_onnx2tf
def test_onnx_compiles_to_tflite_by_default_and_profiles(models_dir: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    target = _compile(models_dir / "tiny_cnn.onnx")  # no --target_runtime: tflite (as the cloud)
    assert target.model_type is hub.SourceModelType.TFLITE
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    got = _run_tflite(target.download(str(tmp_path / "m.tflite")), x)
    session = ort.InferenceSession(str(models_dir / "tiny_cnn.onnx"))
    np.testing.assert_allclose(got, session.run(None, {"image": x})[0], rtol=1e-4, atol=1e-5)
    _profiles_here(target)


# --- qnn_lib_aarch64_android ---------------------------------------------------------------


def test_qnn_lib_without_the_sdk_is_refused_at_submit(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QNN_SDK_ROOT", raising=False)
    monkeypatch.delenv("ANDROID_NDK_ROOT", raising=False)
    monkeypatch.delenv("ANDROID_NDK_HOME", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no ndk-build
    with pytest.raises(hub.UserError, match="QNN_SDK_ROOT is not set.*the Android NDK"):
        hub.submit_compile_job(
            models_dir / "tiny_cnn.onnx",
            hub.Device(PHONE),
            options="--target_runtime qnn_lib_aarch64_android",
        )


def test_qnn_lib_names_each_missing_tool(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QNN_SDK_ROOT", str(tmp_path / "qnn"))  # an SDK without its tools
    monkeypatch.setenv("ANDROID_NDK_ROOT", str(write_android_ndk(tmp_path / "ndk")))
    with pytest.raises(hub.UserError) as info:
        hub.submit_compile_job(
            models_dir / "tiny_cnn.onnx",
            hub.Device(PHONE),
            options="--target_runtime qnn_lib_aarch64_android",
        )
    message = str(info.value)
    assert "qnn-onnx-converter does not exist" in message
    assert "qnn-model-lib-generator does not exist" in message
    assert "ANDROID_NDK_ROOT" not in message  # the NDK given is found


def test_qnn_lib_runs_the_sdk_tools_with_their_documented_flags(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "tools.log"
    monkeypatch.setenv("STANDIN_LOG", str(log))  # the worker runs in this process
    monkeypatch.setenv("QNN_SDK_ROOT", str(write_qnn_host_tools(tmp_path / "qnn")))
    monkeypatch.setenv("ANDROID_NDK_ROOT", str(write_android_ndk(tmp_path / "ndk")))
    target = _compile(models_dir / "tiny_cnn.onnx", "--target_runtime qnn_lib_aarch64_android")
    assert target.model_type is hub.SourceModelType.QNN_LIB_AARCH64_ANDROID
    assert Path(target.download(str(tmp_path / "lib.so"))).read_bytes().startswith(b"\x7fELF")
    converter, generator = log.read_text().splitlines()
    assert converter.startswith("qnn-onnx-converter --input_network ")
    assert " --output_path " in converter
    assert generator.startswith("qnn-model-lib-generator -c ")
    assert generator.endswith(" -t aarch64-android ndk-build=yes")
