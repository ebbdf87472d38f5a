"""The cloud service's Python API as a user's script: upload, submit, wait, download.

Everything runs for real: the store on disk, this process's worker, the agent
over gRPC, the runtimes, the QNN HTP simulator for the compiled binary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import controller as hub

TIMEOUT_SEC = 240


def test_upload_then_profile_by_model_object(models_dir: Path) -> None:
    model = hub.upload_model(models_dir / "tiny_cnn.onnx")
    assert model.model_type is hub.SourceModelType.ONNX
    assert hub.get_model(model.model_id).sha256 == model.sha256
    assert model.model_id in {m.model_id for m in hub.get_models()}

    job = hub.submit_profile_job(
        model, hub.Device("local"), options="--compute_unit cpu --max_profiler_iterations 4"
    )
    assert isinstance(job, hub.ProfileJob)
    assert job.wait(TIMEOUT_SEC).success
    assert hub.get_job(job.job_id).get_status().state is hub.JobStatus.State.SUCCESS
    assert len(job.download_profile()["execution_summary"]["all_inference_times"]) == 4
    assert job.model.model_id == model.model_id
    assert job.job_id in {j.job_id for j in hub.get_jobs()}


def test_inference_outputs_match_the_runtime_run_directly(models_dir: Path) -> None:
    model_path = models_dir / "tiny_cnn.onnx"
    rng = np.random.default_rng(7)
    samples = [rng.random((1, 3, 32, 32), dtype=np.float32) for _ in range(3)]
    job = hub.submit_inference_job(
        model_path, None, {"image": samples}, options="--compute_unit cpu"
    )
    assert job.wait(TIMEOUT_SEC).success
    outputs = job.download_output_data()
    direct = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    assert list(outputs) == ["probs"] and len(outputs["probs"]) == 3
    for sample, got in zip(samples, outputs["probs"], strict=True):
        np.testing.assert_allclose(got, direct.run(None, {"image": sample})[0], rtol=1e-5)
    assert job.inputs.download()["image"][1].tobytes() == samples[1].tobytes()


def test_inference_from_an_uploaded_dataset_on_tflite(models_dir: Path) -> None:
    data = {"image": [np.zeros((1, 32, 32, 3), np.float32)]}
    dataset = hub.upload_dataset(data, name="zeros")
    assert hub.get_dataset(dataset.dataset_id).name == "zeros"
    job = hub.submit_inference_job(
        models_dir / "tiny_cnn.tflite", None, dataset, options="--compute_unit cpu"
    )
    assert job.wait(TIMEOUT_SEC).success
    probabilities = job.download_output_data()["probabilities"][0]
    assert probabilities.shape == (1, 10)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"img": [np.zeros((1, 3, 32, 32), np.float32)]}, "do not match the model's inputs"),
        ({"image": [np.zeros((1, 3, 16, 16), np.float32)]}, "shape [1, 3, 16, 16]"),
        ({"image": [np.zeros((1, 3, 32, 32), np.float64)]}, "dtype float64"),
        ({"image": []}, "non-zero number of samples"),
    ],
)
def test_bad_inference_inputs_are_refused_before_a_job_exists(
    models_dir: Path, inputs: dict, message: str
) -> None:
    before = len(hub.get_jobs(500))
    with pytest.raises(hub.UserError, match=message.replace("[", r"\[")):
        hub.submit_inference_job(models_dir / "tiny_cnn.onnx", None, inputs)
    assert len(hub.get_jobs(500)) == before


def test_unknown_ids_are_user_errors() -> None:
    with pytest.raises(hub.UserError, match="mnope123"):
        hub.get_model("mnope123")
    with pytest.raises(hub.UserError, match="jnope123"):
        hub.get_job("jnope123")
    with pytest.raises(hub.UserError, match="dnope123"):
        hub.get_dataset("dnope123")


def test_expired_dataset_is_refused(models_dir: Path) -> None:
    import time

    from controller.api import current_store

    short_lived = 0.05 / 86400  # 50 ms, in days
    data = {"image": [np.zeros((1, 3, 32, 32), np.float32)]}
    record = current_store().add_dataset(data, ttl_days=short_lived)
    time.sleep(0.1)
    with pytest.raises(hub.UserError, match="expired"):
        hub.get_dataset(record.id)
    with pytest.raises(hub.UserError, match="expired"):
        hub.submit_inference_job(
            models_dir / "tiny_cnn.onnx", None, hub.Dataset._from(current_store(), record)
        )


def test_compiled_context_binary_profiles_on_the_htp_backend(models_dir: Path) -> None:
    compile_job = hub.submit_compile_job(
        models_dir / "tiny_cnn_qdq.onnx",
        hub.Device("Samsung Galaxy S23"),  # compiled for SM8550; the phone need not be here
        options="--target_runtime qnn_context_binary",
    )
    assert compile_job.wait(TIMEOUT_SEC).success, compile_job.get_status().message
    target = compile_job.get_target_model()
    assert target is not None and target.model_type is hub.SourceModelType.QNN_CONTEXT_BINARY
    assert compile_job.download_results().target_model == target
    # No Galaxy S23 here: profile the binary on this host's HTP simulator.
    job = hub.submit_profile_job(target, None, options="--max_profiler_iterations 2")
    assert job.wait(TIMEOUT_SEC).success
    result = job.download_profile()
    assert {e["compute_unit"] for e in result["execution_detail"]} == {"NPU"}
    assert result["devicelab"]["applied"]["accelerators"] == ["QNNExecutionProvider"]


def test_compile_for_an_unknown_device_is_refused(models_dir: Path) -> None:
    before = len(hub.get_jobs(500))
    with pytest.raises(hub.UserError, match="no device profile matches"):
        hub.submit_compile_job(
            models_dir / "tiny_cnn.onnx", hub.Device("Pixel 99"), options="--target_runtime onnx"
        )
    with pytest.raises(hub.UserError, match="no device matches"):  # profiling needs the phone
        hub.submit_compile_and_profile_jobs(
            models_dir / "tiny_cnn.onnx",
            hub.Device("Samsung Galaxy S23"),
            compile_options="--target_runtime onnx",
        )
    assert len(hub.get_jobs(500)) == before  # neither half was queued


def test_cancel_a_running_job_keeps_what_it_measured(models_dir: Path) -> None:
    job = hub.submit_profile_job(
        models_dir / "mobilenet_like.tflite",
        None,
        options="--compute_unit cpu --max_profiler_iterations 100000 --max_profiler_time 60",
    )
    while job.get_status().state is not hub.JobStatus.State.MEASURING_PERFORMANCE:
        assert not job.get_status().finished, job.get_status().message
    from controller.api import current_store

    # wait until some latencies were persisted, then cancel
    while not any(e.kind == "iterations" for e in current_store().events(job.job_id)):
        pass
    assert job.cancel()
    status = job.wait(TIMEOUT_SEC)
    assert status.failure and "cancelled" in status.message
    kinds = [e.kind for e in current_store().events(job.job_id)]
    assert "load_done" in kinds and "iterations" in kinds
    assert job.download_profile() == {}  # as the cloud client: a failed job has no profile


def test_set_verbose_announces_submitted_jobs(
    models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.set_verbose(True)
    try:
        job = hub.submit_profile_job(
            models_dir / "tiny_cnn.onnx",
            None,
            options="--compute_unit cpu --max_profiler_iterations 1",
        )
    finally:
        hub.set_verbose(False)
    assert f"Scheduled profile job ({job.job_id}) successfully." in capsys.readouterr().out
    assert job.wait(TIMEOUT_SEC).success


def test_quantized_context_binary_outputs_are_dequantized_unless_asked_not_to(
    models_dir: Path,
) -> None:
    compile_job = hub.submit_compile_job(
        models_dir / "tiny_cnn.onnx",
        hub.Device("Samsung Galaxy S23"),
        options="--target_runtime qnn_context_binary --quantize_full_type int8 --quantize_io",
    )
    compile_job.wait(TIMEOUT_SEC)
    target = compile_job.get_target_model()
    assert target is not None, compile_job.get_status().message
    image = np.random.default_rng(3).random((1, 3, 32, 32), dtype=np.float32)
    quantized = np.round(image * 255).astype(np.uint8)  # the input's scale is ~1/255, zp 0

    floats = hub.submit_inference_job(target, None, {"image": [quantized]})
    assert floats.wait(TIMEOUT_SEC).success
    probs = floats.download_output_data()["probs"][0]
    assert probs.dtype == np.float32
    expected = ort.InferenceSession(str(models_dir / "tiny_cnn.onnx")).run(None, {"image": image})[
        0
    ]
    np.testing.assert_allclose(probs, expected, atol=0.03)  # int8 model vs fp32: a few steps

    raw = hub.submit_inference_job(
        target, None, {"image": [quantized]}, options="--dequantize_outputs false"
    )
    assert raw.wait(TIMEOUT_SEC).success
    assert raw.download_output_data()["probs"][0].dtype == np.uint8

    # Float samples, as cloud programs send them (qai-hub-models' export): quantized with
    # the model's own input scale and zero point at submit, and the job says so.
    from_float = hub.submit_inference_job(target, None, {"image": [image]})
    assert from_float.wait(TIMEOUT_SEC).success
    np.testing.assert_allclose(from_float.download_output_data()["probs"][0], expected, atol=0.03)
    (note,) = hub.api.current_store().get_result(from_float.job_id)["devicelab"]["notes"]
    assert note.startswith("input 'image': float32 samples quantized to uint8 (scale ")


def test_a_quantized_io_onnx_model_takes_float_samples_and_gives_float_outputs(
    models_dir: Path,
) -> None:
    """What qai-hub-models' quantized exports do: float samples in, outputs compared with
    the float model's. The model's uint8 output is dequantized with the scale and zero
    point the host reads from its last QuantizeLinear (ONNX Runtime does not expose it)."""
    rng = np.random.default_rng(5)
    image = rng.random((1, 3, 32, 32), dtype=np.float32)
    compile_job = hub.submit_compile_job(
        models_dir / "tiny_cnn.onnx",
        hub.Device(),
        options="--target_runtime onnx --quantize_full_type int8 --quantize_io",
        calibration_data={
            "image": [rng.random((1, 3, 32, 32), dtype=np.float32) for _ in range(8)]
        },
    )
    target = compile_job.get_target_model()
    assert target is not None, compile_job.get_status().message
    job = hub.submit_inference_job(target, hub.Device("local"), {"image": [image]})
    assert job.wait(TIMEOUT_SEC).success, job.get_status().message
    probs = job.download_output_data()["probs"][0]
    assert probs.dtype == np.float32
    expected = ort.InferenceSession(str(models_dir / "tiny_cnn.onnx")).run(None, {"image": image})
    np.testing.assert_allclose(probs, expected[0], atol=0.05)
    applied = hub.api.current_store().get_result(job.job_id)["devicelab"]["applied"]
    assert not applied.get("warnings")  # no "returned as is" for the uint8 output
