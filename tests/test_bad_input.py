"""Bad input is refused with a clear UserError before any job exists or runs."""

from __future__ import annotations

from pathlib import Path

import pytest

import controller as hub
from controller.cli import main


def _refused(model: Path, options: str = "") -> str:
    before = len(hub.get_jobs())
    with pytest.raises(hub.UserError) as info:
        hub.submit_profile_job(model, options=options)
    assert len(hub.get_jobs()) == before, "a job was created for bad input"
    return str(info.value)


def test_corrupt_onnx_file(tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"\x08\x07this is not a protobuf model at all" * 10)
    message = _refused(model)
    assert "broken.onnx" in message and "ONNX" in message


def test_corrupt_tflite_file(tmp_path: Path) -> None:
    model = tmp_path / "broken.tflite"
    model.write_bytes(b"0123456789abcdef" * 8)
    message = _refused(model)
    assert "broken.tflite" in message and "TFLite" in message


def test_truncated_tflite_is_refused_by_the_agent(models_dir: Path, tmp_path: Path) -> None:
    """Passes the controller's header check, so the device's runtime must say no."""
    model = tmp_path / "truncated.tflite"
    model.write_bytes((models_dir / "tiny_cnn.tflite").read_bytes()[:200])
    job = hub.submit_profile_job(model, options="--compute_unit cpu")
    status = job.wait(timeout=120)
    assert status.failure
    assert "truncated.tflite" in status.message
    assert job.download_profile() == {}  # as the cloud client: no profile, no exception


def test_unknown_extension(tmp_path: Path) -> None:
    model = tmp_path / "model.pb"  # a TensorFlow graph: neither run nor compiled here
    model.write_bytes(b"not used")
    message = _refused(model)
    assert "'.pb'" in message and ".tflite" in message


def test_missing_file(tmp_path: Path) -> None:
    message = _refused(tmp_path / "nowhere.onnx")
    assert "nowhere.onnx" in message and "not found" in message


def test_unknown_option_suggests_the_nearest(models_dir: Path) -> None:
    message = _refused(models_dir / "tiny_cnn.onnx", "--max_profiler_iteration 5")
    assert "--max_profiler_iteration" in message
    assert "--max_profiler_iterations" in message


@pytest.mark.parametrize("value", ["0", "601", "-3", "soon"])
def test_out_of_range_max_profiler_time(models_dir: Path, value: str) -> None:
    message = _refused(models_dir / "tiny_cnn.onnx", f"--max_profiler_time {value}")
    assert "--max_profiler_time" in message and value in message


def test_unknown_device(models_dir: Path) -> None:
    before = len(hub.get_jobs())
    with pytest.raises(hub.UserError, match="no device matches"):
        hub.submit_profile_job(models_dir / "tiny_cnn.onnx", hub.Device("Pixel 99"))
    assert len(hub.get_jobs()) == before


def test_cli_exit_code_2_on_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.txt"
    model.write_text("hello")
    assert main(["profile", str(model)]) == 2
    assert "model.txt" in capsys.readouterr().err
