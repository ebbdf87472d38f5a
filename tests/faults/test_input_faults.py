"""Issue 13, defects 11 and 12: mistakes in a script's inputs are UserErrors at submit,
naming the input, what was given and what the model takes; no job is created.

Each test is written as the user's script was, and none waits for a device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import controller as hub


def _refused_profile(model: Path, input_specs: Any) -> str:
    before = len(hub.get_jobs(limit=1000))
    with pytest.raises(hub.UserError) as info:
        hub.submit_profile_job(model, options="--compute_unit cpu", input_specs=input_specs)
    assert len(hub.get_jobs(limit=1000)) == before, "a job was created for bad input_specs"
    return str(info.value)


@pytest.mark.parametrize(
    ("model", "input_specs", "given"),
    [
        ("tiny_cnn.onnx", {"img": (1, 3, 32, 32)}, "['img']"),
        ("tiny_cnn.tflite", {"img": (1, 32, 32, 3)}, "['img']"),  # ran anyway before
        ("tiny_cnn.onnx", {"image": (3, 32, 32)}, "rank 3"),
        ("tiny_cnn.onnx", {"image": ((1, 3, 32, 32), "notadtype")}, "'notadtype'"),
        ("tiny_cnn.onnx", {"image": ((1, 3, 32, 32), "int8")}, "int8"),  # ignored before
        ("tiny_cnn_dynamic.onnx", {"image": (0, 3, 32, 32)}, "dim 0 is 0"),  # ran before
        ("tiny_cnn.onnx", {"image": (1, 3, 64, 64)}, "dim 2 is 64"),
        ("tiny_cnn.onnx", {"image": None}, "None"),  # a raw TypeError before
        ("tiny_cnn.onnx", {"image": "1,3,32,32"}, "'1,3,32,32'"),  # crashed the job before
    ],
)
def test_bad_input_specs_are_refused_at_submit(
    models_dir: Path, model: str, input_specs: Any, given: str
) -> None:
    message = _refused_profile(models_dir / model, input_specs)
    assert given in message, message
    assert "image" in message and "float32" in message, message  # what the model takes


def test_a_dynamic_model_without_input_specs_is_refused_at_submit(models_dir: Path) -> None:
    message = _refused_profile(models_dir / "tiny_cnn_dynamic.onnx", None)
    assert "'image'" in message and "[?, 3, 32, 32]" in message
    assert "input_specs={'image': (1, 3, 32, 32)}" in message  # what to write instead


def test_input_specs_that_fit_still_run(models_dir: Path) -> None:
    job = hub.submit_profile_job(
        models_dir / "tiny_cnn_dynamic.onnx",
        options="--compute_unit cpu --max_profiler_iterations 1",
        input_specs={"image": (2, 3, 32, 32)},
    )
    assert isinstance(job, hub.ProfileJob)
    assert job.wait(timeout=120).success


def test_input_specs_of_a_compile_job_are_checked_at_submit(models_dir: Path) -> None:
    with pytest.raises(hub.UserError, match=r"input_specs\['image'\].*rank 2.*rank 4"):
        hub.submit_compile_job(
            models_dir / "tiny_cnn_dynamic.onnx",
            hub.Device(),
            input_specs={"image": (3, 32)},
            options="--target_runtime onnx",
        )


@pytest.mark.parametrize("as_list", [False, True])
def test_inference_inputs_that_name_no_input_are_refused(models_dir: Path, as_list: bool) -> None:
    """A bare array, or a list of them, names no input (was: a raw ValueError from dict())."""
    image = np.zeros((1, 3, 32, 32), np.float32)
    inputs: Any = [image] if as_list else image
    with pytest.raises(hub.UserError, match="map input names to lists of arrays"):
        hub.submit_inference_job(models_dir / "tiny_cnn.onnx", None, inputs)


def test_infer_input_with_a_leading_axis_of_n_is_n_samples(
    models_dir: Path, tmp_path: Path
) -> None:
    """As the help says, and as --out writes outputs (was: refused as a rank-5 sample)."""
    from controller.cli import main

    images = tmp_path / "images.npy"
    np.save(images, np.random.default_rng(0).random((3, 1, 3, 32, 32), dtype=np.float32))
    out = tmp_path / "out.npz"
    argv = ["infer", str(models_dir / "tiny_cnn.onnx"), "--quiet", "--input", f"image={images}"]
    assert main([*argv, "--out", str(out), "--options", "--compute_unit cpu"]) == 0
    assert np.load(out)["probs"].shape == (3, 1, 10)
