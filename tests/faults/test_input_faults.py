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


@pytest.mark.parametrize("inputs", [{"image": None}, {"image": [None]}])
def test_an_input_of_none_is_a_user_error_naming_it(models_dir: Path, inputs: Any) -> None:
    with pytest.raises(hub.UserError, match=r"input 'image' sample 0.*NoneType"):
        hub.submit_inference_job(models_dir / "tiny_cnn.onnx", None, inputs)


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


# --- defect 12: the smaller ones ---------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "shown"),
    [
        ("--compute_unit cpu\x1b[2K", r"'cpu\x1b[2K'"),  # an ANSI escape pasted from a log
        ("--compute_unit cp\x07u", r"'cp\x07u'"),
        ("--max_profiler_time 5\u200b", r"'5\u200b'"),  # a zero-width space
    ],
)
def test_a_control_character_in_an_option_value_is_shown_escaped(
    models_dir: Path, options: str, shown: str
) -> None:
    with pytest.raises(hub.UserError) as info:
        hub.submit_profile_job(models_dir / "tiny_cnn.onnx", options=options)
    assert shown in str(info.value)
    assert str(info.value).isprintable()


@pytest.mark.parametrize("folder", ["models", "model.tflite"])
def test_a_directory_given_as_a_model_is_called_a_directory(tmp_path: Path, folder: str) -> None:
    (tmp_path / folder).mkdir()
    with pytest.raises(hub.UserError, match="is a directory, not a model file"):
        hub.submit_profile_job(tmp_path / folder)


def _sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes that takes no disk space (the test stays fast)."""
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def test_a_model_above_the_size_limit_is_refused_at_submit(tmp_path: Path) -> None:
    from controller.model_files import MODEL_SIZE_LIMIT_BYTES

    model = _sparse(tmp_path / "huge.tflite", MODEL_SIZE_LIMIT_BYTES + 1, b"\0\0\0\0TFL3")
    before = len(hub.get_models(limit=1000))
    with pytest.raises(hub.UserError, match=r"huge.tflite: 4.0 GiB is larger than the 4 GiB"):
        hub.submit_profile_job(model)
    assert len(hub.get_models(limit=1000)) == before


def test_a_model_above_1_gib_is_warned_about_before_it_is_read(tmp_path: Path) -> None:
    from controller.model_files import MODEL_SIZE_WARNING_BYTES, ModelSizeWarning

    # No TFL3 identifier: refused after the warning, so nothing is copied into the store.
    model = _sparse(tmp_path / "big.tflite", MODEL_SIZE_WARNING_BYTES + 1)
    with (
        pytest.warns(ModelSizeWarning, match=r"big.tflite: 1.0 GiB model"),
        pytest.raises(hub.UserError, match="not a TFLite model"),
    ):
        hub.upload_model(model)


def _stored_result_bytes(job_id: str) -> int:
    """The bytes the store's row holds for the job's result (what grows with iterations)."""
    import sqlite3

    from controller.store import Store
    from controller.store._store import DB_NAME

    database = Store.default().root / DB_NAME
    with sqlite3.connect(database) as conn:
        (size,) = conn.execute(
            "SELECT length(result) FROM job_results WHERE job_id = ?", (job_id,)
        ).fetchone()
    return int(size)


def test_a_long_loop_keeps_every_sample_in_a_compact_result(models_dir: Path) -> None:
    """365k iterations stored 1.5 MB of JSON (~4 bytes a sample); all samples are kept,
    download_profile() still gives the client's list of ints, and the row grows by < 1 byte
    a sample."""
    job = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx",
        options="--compute_unit cpu --max_profiler_iterations 2147483647 --max_profiler_time 2",
    )
    assert isinstance(job, hub.ProfileJob)
    profile = job.download_profile()
    times = profile["execution_summary"]["all_inference_times"]
    assert len(times) == profile["devicelab"]["iterations"] > 5000
    assert all(type(t) is int for t in times)
    # Under 1 byte a sample beyond the result's fixed part (~4 KiB: layers, options,
    # environment), which dominates when a loaded machine runs only a few thousand.
    assert _stored_result_bytes(job.job_id) < 4096 + len(times)


def _long_loop_result(outlier_us: int | None) -> dict[str, Any]:
    """A result as a 600 s loop of a fast model leaves it: 365k timed iterations."""
    times = [int(v) for v in np.random.default_rng(1).integers(40, 400, 365_000)]
    if outlier_us is not None:
        times[200_000] = outlier_us
    return {"execution_summary": {"all_inference_times": times}, "execution_detail": []}


def test_a_long_loop_makes_a_trace_and_report_of_bounded_size() -> None:
    """365k iterations made a 57 MB Chrome trace and a 4.5 MB HTML report; both are
    bounded now, the trace's loop still ends at the sum of every latency, and the
    report's line still shows an outlier."""
    import json
    import re

    from controller.reports import chrome_trace, render_html
    from controller.reports.trace import TID_LOOP
    from tests.test_reports import assert_valid_trace

    result = _long_loop_result(outlier_us=90_000)
    doc = chrome_trace(result)
    assert_valid_trace(doc)
    assert len(json.dumps(doc)) < 3_000_000
    loop = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["tid"] == TID_LOOP]
    total_us = sum(result["execution_summary"]["all_inference_times"])
    assert loop[-1]["ts"] + loop[-1]["dur"] == pytest.approx(total_us, abs=1e-3)

    page = render_html(result)
    assert len(page) < 200_000
    points = re.search(r'<polyline class="series" points="([^"]+)"', page)
    assert points is not None
    ys = [float(p.split(",")[1]) for p in points.group(1).split()]
    # The 90 ms outlier sets the axis; the line must climb to it from the 0.4 ms floor.
    assert len(ys) <= 2_000 and max(ys) - min(ys) > 100
