"""The names a cloud-client (0.56) profiling script uses, written as such a script would.

Jobs run for real on this host (the in-process worker, see conftest.py).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

import controller as hub
from controller.frameworks import frameworks_from_runtimes
from protos import agent_pb2 as pb

TIMEOUT_SEC = 240
FAST = "--compute_unit cpu --max_profiler_iterations 2"


def test_version_is_the_installed_distributions() -> None:
    assert hub.__version__ == metadata.version("devicelab")


@pytest.fixture(scope="module")
def finished_jobs(models_dir: Path) -> tuple[hub.ProfileJob, hub.CompileJob]:
    profile = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", hub.Device(), options=FAST)
    compile_job = hub.submit_compile_job(
        models_dir / "tiny_cnn.onnx",
        hub.Device("Samsung Galaxy S23"),
        options="--target_runtime onnx",
    )
    assert isinstance(profile, hub.ProfileJob) and isinstance(compile_job, hub.CompileJob)
    assert profile.wait(TIMEOUT_SEC).success and compile_job.wait(TIMEOUT_SEC).success
    return profile, compile_job


def test_job_summaries_list_recent_jobs(
    finished_jobs: tuple[hub.ProfileJob, hub.CompileJob],
) -> None:
    profile, compile_job = finished_jobs
    by_id = {s.job_id: s for s in hub.get_job_summaries(limit=500)}
    summary = by_id[profile.job_id]
    assert isinstance(summary, hub.ProfileJobSummary) and isinstance(summary, hub.JobSummary)
    assert summary.job_type is hub.JobType.PROFILE and summary.profiling
    assert summary.status.code == "SUCCESS" and summary.device_name == "local"
    assert isinstance(summary.estimated_inference_time, int)
    assert isinstance(summary.inference_memory_peak_range, tuple)
    assert summary.date == profile.date and summary.name == profile.name
    assert Path(summary.url.removeprefix("file://")).is_file()
    compiled = by_id[compile_job.job_id]
    assert isinstance(compiled, hub.CompileJobSummary)
    assert compiled.device_name == "Samsung Galaxy S23" and compiled.username == ""
    assert str(compiled) == f"Job(job_id={compile_job.job_id}, device=Samsung Galaxy S23)"


def test_job_summaries_filter_by_state_and_type_and_page(
    finished_jobs: tuple[hub.ProfileJob, hub.CompileJob],
) -> None:
    profile, compile_job = finished_jobs
    compiles = hub.get_job_summaries(limit=500, type=hub.JobType.COMPILE)
    assert compile_job.job_id in {s.job_id for s in compiles}
    assert all(isinstance(s, hub.CompileJobSummary) for s in compiles)
    succeeded = hub.get_job_summaries(limit=500, state=hub.JobStatus.State.SUCCESS)
    assert {profile.job_id, compile_job.job_id} <= {s.job_id for s in succeeded}
    running = hub.get_job_summaries(limit=500, state=hub.JobStatus.all_running_states())
    assert not {profile.job_id, compile_job.job_id} & {s.job_id for s in running}
    first_two = hub.get_job_summaries(0, 2, state=hub.JobStatus.State.SUCCESS)
    second = hub.get_job_summaries(1, 1, state=hub.JobStatus.State.SUCCESS)
    assert len(first_two) == 2 and second[0].job_id == first_two[1].job_id
    assert hub.get_job_summaries(limit=0) == []


def test_frameworks_are_this_hosts_runtimes() -> None:
    frameworks = {f.name: f for f in hub.get_frameworks()}
    ort = frameworks["ONNX Runtime"]
    assert isinstance(ort, hub.Framework)
    assert ort.full_version == onnxruntime.__version__
    assert ort.full_version.startswith(ort.api_version + ".")
    assert ort.api_tags == ["default", "latest"]
    assert "LiteRT" in frameworks


def test_qairt_is_listed_only_where_qnn_backends_were_found() -> None:
    with_qnn = pb.RuntimeInfo(name="onnxruntime", version="1.32.0", available=True)
    with_qnn.backends.append("htp")
    missing = pb.RuntimeInfo(name="litert", version="", available=False, detail="not installed")
    found = frameworks_from_runtimes([with_qnn, missing], "2.51.0")
    assert [(f.name, f.api_version, f.full_version) for f in found] == [
        ("QAIRT", "2.51", "2.51.0"),
        ("ONNX Runtime", "1.32", "1.32.0"),
    ]
    no_backends = pb.RuntimeInfo(name="onnxruntime", version="1.32.0", available=True)
    assert [f.name for f in frameworks_from_runtimes([no_backends], "2.51.0")] == ["ONNX Runtime"]


def test_quantize_job_makes_a_qdq_onnx_model(models_dir: Path) -> None:
    calibration = {"image": [np.random.rand(1, 3, 32, 32).astype(np.float32) for _ in range(4)]}
    job = hub.submit_quantize_job(
        str(models_dir / "tiny_cnn.onnx"),
        calibration,
        weights_dtype=hub.QuantizeDtype.INT8,
        activations_dtype=hub.QuantizeDtype.INT16,
        name="tiny_cnn w8a16",
    )
    assert isinstance(job, hub.QuantizeJob)
    assert job.wait(TIMEOUT_SEC).success, job.get_status().message
    target = job.get_target_model()
    assert target is not None and target.model_type is hub.SourceModelType.ONNX
    quantized = job.download_target_model()
    assert isinstance(quantized, onnx.ModelProto)
    assert "QuantizeLinear" in {node.op_type for node in quantized.graph.node}
    again = hub.get_job(job.job_id)
    assert isinstance(again, hub.QuantizeJob) and again.weights_dtype is hub.QuantizeDtype.INT8
    assert again.activations_dtype is hub.QuantizeDtype.INT16
    assert len(again.calibration_dataset.download()["image"]) == 4
    summaries = hub.get_job_summaries(limit=500, type=hub.JobType.QUANTIZE)
    assert [s for s in summaries if s.job_id == job.job_id][0].device_name is None


def test_quantize_dtype_pair_without_equivalent_is_refused(models_dir: Path) -> None:
    calibration = {"image": [np.zeros((1, 3, 32, 32), np.float32)]}
    with pytest.raises(hub.UserError, match="INT8/INT8 .int8.*INT16/INT16 .int16."):
        hub.submit_quantize_job(
            models_dir / "tiny_cnn.onnx",
            calibration,
            weights_dtype=hub.QuantizeDtype.INT16,
            activations_dtype=hub.QuantizeDtype.INT8,
        )
    with pytest.raises(hub.UserError, match="needs an ONNX model"):
        hub.submit_quantize_job(models_dir / "tiny_cnn.tflite", calibration)


def test_client_methods_are_the_module_functions(models_dir: Path) -> None:
    client = hub.Client(config=None, profile="ignored", default_project_id="ignored")
    model = client.upload_model(models_dir / "tiny_cnn.onnx")
    assert client.get_model(model.model_id).model_id == model.model_id
    assert model.model_id in {m.model_id for m in client.get_models(0, 500)}
    assert client.get_device_attributes() == hub.get_device_attributes()
    specs: hub.InputSpecs = {"image": ((1, 3, 32, 32), "float32")}
    job = client.submit_compile_job(
        model, hub.Device("Samsung Galaxy S23"), input_specs=specs, options="--target_runtime onnx"
    )
    assert isinstance(job, hub.CompileJob) and job.wait(TIMEOUT_SEC).success
    assert client.get_job(job.job_id).job_id == job.job_id
    assert job.target_shapes == {"image": ((1, 3, 32, 32), "float32")}
    assert model.input_spec[None][0] == hub.TensorSpec("image", "float32", (1, 3, 32, 32))
    client.set_verbose(False)
    assert client.verbose is False
