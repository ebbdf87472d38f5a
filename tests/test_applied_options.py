"""Options reach what ran: checked in the result, through the public API, on this host.

Each test submits a real job (the controller starts the real agent and speaks
gRPC to it; the agent runs LiteRT, ONNX Runtime and the QNN HTP simulator) and
reads back what the job asked for, ``result["devicelab"]["options"]``
(``requested`` text and ``effective`` values), next to what the runtime says it
applied, ``result["devicelab"]["applied"]`` (runtime, accelerators, fallbacks,
warnings, settings), and where the layers ran (``execution_detail``).

No phone here: delegate libraries are really absent, which is what the
fallback tests rely on. The HTP simulator is slow, so models are tiny and every
job runs two iterations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import controller as hub

JOB_TIMEOUT_SEC = 120
FAST = "--max_profiler_iterations 2"
QNN_DELEGATE_LIBRARY = "libQnnTFLiteDelegate.so"


def profile(model: Path, options: str) -> dict[str, Any]:
    """Run a profile job that must succeed; its result dict."""
    job = hub.submit_profile_job(model, options=f"{options} {FAST}")
    status = job.wait(timeout=JOB_TIMEOUT_SEC)
    assert status.success, status.message
    return job.download_profile()


def applied(result: dict[str, Any]) -> dict[str, Any]:
    return result["devicelab"]["applied"]


def effective(result: dict[str, Any]) -> dict[str, Any]:
    return result["devicelab"]["options"]["effective"]


def units_by_type(result: dict[str, Any]) -> dict[str, set[str]]:
    """Compute units each layer type ran on."""
    units: dict[str, set[str]] = {}
    for layer in result["execution_detail"]:
        units.setdefault(layer["type"], set()).add(layer["compute_unit"])
    return units


@pytest.fixture(scope="module")
def context_binary(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real QNN HTP context binary of the QDQ sample, from ORT's EP-context generation.

    The cloud service offers no way to set the HTP performance mode of an ``.onnx`` job
    (``--qnn_options`` is for QNN targets only), so a ``.bin`` carries that test.
    """
    import onnxruntime as ort

    from agent.runtimes.qnn_ep import register_qnn_ep

    out = tmp_path_factory.mktemp("context_binary") / "tiny_ctx.onnx"
    options = ort.SessionOptions()
    options.add_session_config_entry("ep.context_enable", "1")
    options.add_session_config_entry("ep.context_embed_mode", "0")  # the .bin beside the model
    options.add_session_config_entry("ep.context_file_path", str(out))
    options.add_provider_for_devices(register_qnn_ep(ort), {"backend_type": "htp"})
    ort.InferenceSession(str(models_dir / "tiny_cnn_qdq.onnx"), sess_options=options)
    binary = out.with_name("tiny_ctx_qnn.bin")
    assert binary.is_file()
    return binary


# ---------------------------------------------------------------- TFLite


@pytest.mark.parametrize("threads", [1, 2])
def test_tflite_thread_count_reaches_the_interpreter(models_dir: Path, threads: int) -> None:
    options = f"--compute_unit cpu --tflite_options number_of_threads={threads}"
    result = profile(models_dir / "tiny_cnn.tflite", options)
    assert result["devicelab"]["options"]["requested"] == f"{options} {FAST}"
    assert effective(result)["tflite_options"]["number_of_threads"] == threads
    assert applied(result)["settings"]["num_threads"] == str(threads)


def test_tflite_xnnpack_on_runs_xnnpack_operators(models_dir: Path) -> None:
    result = profile(models_dir / "tiny_cnn.tflite", "--tflite_delegates xnnpack")
    assert effective(result)["tflite_delegates"] == ["xnnpack"]
    done = applied(result)
    assert done["accelerators"] == ["xnnpack"] and done["fallbacks"] == []
    assert done["settings"]["xnnpack"] == "on"
    # Per-layer events are XNNPACK's own operators, not TFLite nodes.
    assert any(t.startswith("Convolution (NHWC") for t in units_by_type(result))


def test_tflite_delegate_list_without_xnnpack_turns_it_off(models_dir: Path) -> None:
    # The cloud service: delegates are used in the order given; a list without xnnpack leaves
    # the builtin kernels once the (absent) GPU delegate falls back.
    result = profile(models_dir / "tiny_cnn.tflite", "--tflite_delegates gpu")
    done = applied(result)
    assert done["accelerators"] == ["cpu"]
    assert done["settings"]["xnnpack"] == "off"
    assert done["settings"]["op_resolver"] == "BUILTIN_WITHOUT_DEFAULT_DELEGATES"
    [fallback] = done["fallbacks"]
    assert fallback.startswith("gpu: libtensorflowlite_gpu_delegate.so not found")
    assert units_by_type(result)["CONV_2D"] == {"CPU"}  # TFLite's own kernels ran


def test_tflite_missing_delegate_without_fallback_fails_the_job(models_dir: Path) -> None:
    options = f"--tflite_delegates qnn --tflite_options enable_fallback=false {FAST}"
    job = hub.submit_profile_job(models_dir / "tiny_cnn.tflite", options=options)
    status = job.wait(timeout=JOB_TIMEOUT_SEC)
    assert status.failure
    assert "delegate qnn" in status.message and QNN_DELEGATE_LIBRARY in status.message
    assert f"delegate qnn: {QNN_DELEGATE_LIBRARY} not found" in status.message
    assert job.download_profile() == {}


def test_tflite_missing_delegate_with_fallback_is_recorded(models_dir: Path) -> None:
    options = "--tflite_delegates qnn --tflite_options enable_fallback=true"
    result = profile(models_dir / "tiny_cnn.tflite", options)
    assert effective(result)["tflite_options"]["enable_fallback"] is True
    done = applied(result)
    assert done["settings"]["enable_fallback"] == "true"
    assert done["accelerators"] == ["cpu"]  # qnn dropped; no xnnpack in the list
    [fallback] = done["fallbacks"]
    assert fallback.startswith(f"qnn: {QNN_DELEGATE_LIBRARY} not found")


def test_tflite_option_of_a_delegate_that_fell_back_is_a_named_warning(models_dir: Path) -> None:
    # compute_unit all asks for qnn first; its library is absent, so its option went nowhere.
    options = "--tflite_options qnn_htp_performance_mode=kHtpBalanced"
    result = profile(models_dir / "tiny_cnn.tflite", options)
    done = applied(result)
    assert done["accelerators"] == ["xnnpack"]
    assert any(f.startswith(f"qnn: {QNN_DELEGATE_LIBRARY} not found") for f in done["fallbacks"])
    assert done["warnings"] == [
        "qnn_htp_performance_mode not applied: it needs delegate qnn, which is not in use"
    ]


def test_tflite_option_litert_cannot_apply_is_a_named_warning(models_dir: Path) -> None:
    options = "--compute_unit cpu --tflite_options release_dynamic_tensors=true"
    result = profile(models_dir / "tiny_cnn.tflite", options)
    assert effective(result)["tflite_options"]["release_dynamic_tensors"] is True
    [warning] = applied(result)["warnings"]
    assert warning.startswith("release_dynamic_tensors=true not applied:")


# ---------------------------------------------------------- ONNX Runtime


def test_onnx_compute_unit_cpu_keeps_every_layer_on_cpu(models_dir: Path) -> None:
    result = profile(models_dir / "tiny_cnn_qdq.onnx", "--compute_unit cpu")
    assert effective(result)["compute_unit"] == ["cpu"]
    done = applied(result)
    assert done["accelerators"] == ["CPUExecutionProvider"]
    assert done["settings"]["qnn_backend"] == "none"
    assert {layer["compute_unit"] for layer in result["execution_detail"]} == {"CPU"}
    assert any("Conv" in op_type for op_type in units_by_type(result))  # QLinearConv on CPU


def test_onnx_compute_unit_npu_puts_conv_layers_on_the_npu(models_dir: Path) -> None:
    result = profile(models_dir / "tiny_cnn_qdq.onnx", "--compute_unit npu")
    assert effective(result)["compute_unit"] == ["npu"]
    done = applied(result)
    assert done["accelerators"][0] == "QNNExecutionProvider"
    assert done["settings"]["qnn.backend_type"] == "htp"
    assert units_by_type(result)["Conv"] == {"NPU"}


def test_onnx_execution_provider_qnn_selects_the_htp_backend(models_dir: Path) -> None:
    result = profile(models_dir / "tiny_cnn_qdq.onnx", "--onnx_execution_providers qnn")
    assert effective(result)["onnx_execution_providers"] == ["qnn"]
    done = applied(result)
    assert done["accelerators"][0] == "QNNExecutionProvider" and done["fallbacks"] == []
    assert done["settings"]["qnn_backend"] == "htp"
    assert units_by_type(result)["Conv"] == {"NPU"}


def test_qnn_options_are_refused_for_an_onnx_model(models_dir: Path) -> None:
    # The cloud service: --qnn_options only with a QNN target runtime; an .onnx job has none.
    options = "--onnx_execution_providers qnn --qnn_options context_htp_performance_mode=BURST"
    with pytest.raises(hub.UserError, match="--qnn_options: not available for target runtime onnx"):
        hub.submit_profile_job(models_dir / "tiny_cnn_qdq.onnx", options=options)


# ------------------------------------------------- QNN context binary


@pytest.mark.parametrize("mode", ["BURST", "LOW_BALANCED"])
def test_htp_performance_mode_reaches_the_qnn_ep(context_binary: Path, mode: str) -> None:
    result = profile(context_binary, f"--qnn_options context_htp_performance_mode={mode}")
    assert result["devicelab"]["options"]["target_runtime"] == "qnn_context_binary"
    assert effective(result)["qnn_options"]["context_htp_performance_mode"] == mode
    done = applied(result)
    assert done["accelerators"] == ["QNNExecutionProvider"] and done["warnings"] == []
    # Read back from the QNN EP's own session config: the provider option it holds.
    assert done["settings"]["qnn.htp_performance_mode"] == mode.lower()
    assert {layer["compute_unit"] for layer in result["execution_detail"]} == {"NPU"}


def test_qnn_option_without_an_equivalent_is_a_named_warning(context_binary: Path) -> None:
    options = '--qnn_options "context_priority=HIGH;default_graph_htp_num_hvx_threads=2"'
    result = profile(context_binary, options)
    assert effective(result)["qnn_options"]["default_graph_htp_num_hvx_threads"] == 2
    done = applied(result)
    assert done["warnings"] == [
        "qnn_options default_graph_htp_num_hvx_threads=2 not applied: "
        "the ONNX Runtime QNN EP exposes no option for it"
    ]
    assert done["settings"]["qnn.qnn_context_priority"] == "high"  # its sibling still applied
