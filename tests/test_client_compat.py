"""Scripts written for the cloud client (0.56) run unchanged: one test per behaviour,
written the way that client's users write them. Jobs run for real on this host.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import controller as hub

TIMEOUT_SEC = 240
FAST = "--compute_unit cpu --max_profiler_iterations 2"


@pytest.fixture(scope="module")
def profiled(models_dir: Path) -> hub.ProfileJob:
    job = hub.submit_profile_job(models_dir / "tiny_cnn.onnx", hub.Device(), options=FAST)
    assert isinstance(job, hub.ProfileJob)
    assert job.wait(TIMEOUT_SEC).success
    return job


def test_job_status_compares_as_the_clients(profiled: hub.ProfileJob) -> None:
    status = profiled.wait()
    assert status.code == "SUCCESS" and isinstance(status.code, str)
    assert status == hub.JobStatus.State.SUCCESS and status == "SUCCESS"
    assert status.state is hub.JobStatus.State.SUCCESS
    assert status.message is None and status.symbol
    assert hub.JobStatus.State.LINKING_MODELS.value == 100
    assert hub.JobStatus.State.UNSPECIFIED.value == 0
    assert hub.JobStatus.State.SUCCESS.value == 10
    running = hub.JobStatus.all_running_states()
    assert hub.JobStatus.State.MEASURING_PERFORMANCE in running
    assert hub.JobStatus.State.CREATED not in running
    assert hub.JobStatus.State.SUCCESS not in running


def test_download_profile_to_a_file_and_a_folder(profiled: hub.ProfileJob, tmp_path: Path) -> None:
    written = profiled.download_profile(str(tmp_path / "profile"))
    assert written == str(tmp_path / "profile.json")
    assert "execution_summary" in json.loads(Path(written).read_text())
    in_folder = profiled.download_profile(str(tmp_path))
    assert isinstance(in_folder, str) and Path(in_folder).parent == tmp_path


def test_download_results_writes_into_the_artifacts_dir(
    profiled: hub.ProfileJob, tmp_path: Path
) -> None:
    result = profiled.download_results(str(tmp_path / "artifacts"))
    assert result.status.success and result.profile is not None
    assert result.artifacts_dir == str(tmp_path / "artifacts")
    assert list((tmp_path / "artifacts").glob("*.json"))


def test_inference_outputs_to_an_h5_file(models_dir: Path, tmp_path: Path) -> None:
    inputs = {"image": [np.zeros((1, 3, 32, 32), np.float32)]}
    job = hub.submit_inference_job(models_dir / "tiny_cnn.onnx", hub.Device(), inputs)
    assert isinstance(job, hub.InferenceJob)
    written = job.download_output_data(str(tmp_path / "outputs"))
    assert written == str(tmp_path / "outputs.h5")
    with h5py.File(written) as h5f:
        assert h5f["data/0"].attrs["name"] == "probs"
        assert h5f["data/0/batch_0"].shape == (1, 10)


def test_model_and_dataset_download_take_a_filename(models_dir: Path, tmp_path: Path) -> None:
    model = hub.upload_model(models_dir / "tiny_cnn.onnx")
    path = model.download(str(tmp_path / "copy"))
    assert path == str(tmp_path / "copy.onnx")
    assert Path(path).read_bytes() == (models_dir / "tiny_cnn.onnx").read_bytes()
    dataset = hub.upload_dataset({"image": [np.ones((1, 3, 32, 32), np.float32)]})
    h5 = dataset.download(str(tmp_path / "data"))
    assert h5 == str(tmp_path / "data.h5")
    entries = dataset.download()
    assert isinstance(entries, dict) and entries["image"][0].sum() == 3 * 32 * 32


def test_compile_target_model_downloads_to_a_filename(models_dir: Path, tmp_path: Path) -> None:
    job = hub.submit_compile_job(
        models_dir / "tiny_cnn.onnx",
        hub.Device("Samsung Galaxy S23"),
        options="--target_runtime onnx",
    )
    assert isinstance(job, hub.CompileJob)
    path = job.download_target_model(str(tmp_path / "compiled"))
    assert path == str(tmp_path / "compiled.onnx") and Path(path).is_file()
    result = job.download_results(str(tmp_path / "artifacts"))
    assert result.status.success and list((tmp_path / "artifacts").glob("*.onnx"))


def test_wait_with_a_timeout_raises_timeout_error(models_dir: Path) -> None:
    job = hub.submit_profile_job(
        models_dir / "mobilenet_like.tflite",
        hub.Device(),
        options="--compute_unit cpu --max_profiler_iterations 100000 --max_profiler_time 60",
    )
    with pytest.raises(TimeoutError):
        job.wait(0.2)
    job.cancel()


def test_downloads_of_a_failed_job_return_what_the_client_returns(
    models_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "truncated.tflite"
    model.write_bytes((models_dir / "tiny_cnn.tflite").read_bytes()[:200])
    job = hub.submit_profile_job(model, hub.Device(), options="--compute_unit cpu")
    assert job.wait(TIMEOUT_SEC).failure
    assert job.download_profile() == {}
    assert job.download_profile(str(tmp_path / "p.json")) == {}
    assert job.download_output_data() is None
    inference = hub.submit_inference_job(
        models_dir / "tiny_cnn.tflite",
        hub.Device(),
        {"image": [np.zeros((1, 32, 32, 3), np.float32)]},
    )
    if inference.cancel():  # False if it had already run: nothing to check then
        assert inference.wait(TIMEOUT_SEC).failure
        assert inference.download_output_data() is None


def test_profile_values_have_the_clients_types(profiled: hub.ProfileJob) -> None:
    profile = profiled.download_profile()
    summary = profile["execution_summary"]
    assert isinstance(summary["estimated_inference_time"], int)
    assert isinstance(summary["inference_memory_peak_range"], tuple)
    assert all(isinstance(t, int) for t in summary["all_inference_times"])
    assert all(isinstance(layer["execution_time"], int) for layer in profile["execution_detail"])


def test_client_signatures_positional_and_project(models_dir: Path, tmp_path: Path) -> None:
    model = hub.upload_model(models_dir / "tiny_cnn.onnx", name="My Model", project="p")
    assert model.model_id in {m.model_id for m in hub.get_models(0, 500)}
    h5 = tmp_path / "in.h5"
    hub.upload_dataset({"image": [np.zeros((1, 3, 32, 32), np.float32)]}).download(str(h5))
    dataset = hub.upload_dataset(str(h5), project="p")
    assert dataset.dataset_id in {d.dataset_id for d in hub.get_datasets(0, 500)}
    assert not dataset.is_expired() and dataset.get_expiration_status() == "Not Expired"
    jobs = hub.submit_profile_job(model, [hub.Device(), hub.Device()], options=FAST, project="p")
    assert isinstance(jobs, list) and len(jobs) == 2
    random_inputs = hub.submit_inference_job(model, hub.Device(), options=FAST, profile=True)
    assert random_inputs.wait(TIMEOUT_SEC).success
    assert random_inputs.download_profile()["execution_summary"]
    assert random_inputs.download_output_data() is None
    assert hub.get_job(random_inputs.job_id, hub.JobType.PROFILE).job_id == random_inputs.job_id
    assert [j.job_id for j in hub.get_jobs(500, state=hub.JobStatus.State.SUCCESS)]


def test_a_model_named_without_suffix_still_compiles(models_dir: Path) -> None:
    model = hub.upload_model(models_dir / "tiny_cnn.onnx", name="My Model")
    compile_job = hub.submit_compile_job(
        model, hub.Device("Samsung Galaxy S23"), None, None, "--target_runtime onnx"
    )
    assert isinstance(compile_job, hub.CompileJob)
    assert compile_job.wait(TIMEOUT_SEC).success, compile_job.get_status().message
    assert compile_job.get_target_shapes() == {"image": ((1, 3, 32, 32), "float32")}
