"""The CLI as a lab engineer uses it: exit codes scripts can trust, --json everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from controller.cli import main


def _json_out(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_profile_then_list_show_report_and_trace(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result_file = tmp_path / "r.json"
    code = main(
        [
            "profile",
            str(models_dir / "tiny_cnn.onnx"),
            "--quiet",
            "--json",
            str(result_file),
            "--options",
            "--compute_unit cpu --max_profiler_iterations 3",
        ]
    )
    assert code == 0
    job_id = json.loads(result_file.read_text())["devicelab"]["job_id"]
    capsys.readouterr()

    assert main(["jobs", "--json"]) == 0
    jobs = _json_out(capsys)
    assert any(j["id"] == job_id and j["state"] == "success" for j in jobs)  # type: ignore[union-attr]

    assert main(["job", job_id]) == 0
    assert "inference median" in capsys.readouterr().out

    html, trace = tmp_path / "r.html", tmp_path / "r.trace.json"
    assert main(["report", job_id, "--out", str(html)]) == 0
    assert main(["trace", job_id, "--out", str(trace)]) == 0
    assert "<svg" in html.read_text() and job_id in html.read_text()
    assert json.loads(trace.read_text())["traceEvents"]


def test_upload_and_models(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upload", str(models_dir / "tiny_cnn.tflite")]) == 0
    model_id = capsys.readouterr().out.strip()
    assert main(["models", "--json"]) == 0
    assert model_id in {m["id"] for m in _json_out(capsys)}  # type: ignore[union-attr]
    # a model id works wherever a path does
    assert (
        main(
            [
                "profile",
                model_id,
                "--quiet",
                "--options",
                "--compute_unit cpu --max_profiler_iterations 2",
            ]
        )
        == 0
    )
    # --model-id names an uploaded model without the guess from its text
    args = ["--model-id", model_id, "--quiet", "--options", "--max_profiler_iterations 2"]
    assert main(["profile", *args]) == 0


def test_infer_writes_outputs(models_dir: Path, tmp_path: Path) -> None:
    image = tmp_path / "image.npy"
    np.save(image, np.zeros((1, 3, 32, 32), np.float32))
    out = tmp_path / "out.npz"
    assert (
        main(
            [
                "infer",
                str(models_dir / "tiny_cnn.onnx"),
                "--quiet",
                "--input",
                f"image={image}",
                "--out",
                str(out),
                "--options",
                "--compute_unit cpu",
            ]
        )
        == 0
    )
    assert np.load(out)["probs"].shape == (1, 1, 10)


def test_compile_writes_the_target_model(models_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny_static.onnx"
    code = main(
        [
            "compile",
            str(models_dir / "tiny_cnn_dynamic.onnx"),
            "--quiet",
            "--device",
            "Samsung Galaxy S24",
            "--input-shape",
            "image=2,3,32,32",
            "--options",
            "--target_runtime onnx",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    import onnx

    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [2, 3, 32, 32]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["profile", "nowhere.onnx"], "not found"),
        (["profile", "{model}", "--options", "--max_profiler_time 601"], "--max_profiler_time"),
        (["profile", "{model}", "--device", "Pixel 99"], "no device matches"),
        (["job", "jnope1234"], "jnope1234"),
        (["compile", "{model}"], "needs --device"),
        (["infer", "{model}", "--input", "image"], "NAME=FILE.npy"),
        (["profile"], "needs a model: a file, or --model-id ID"),
        (["profile", "{model}", "--model-id", "m123"], "name the model once"),
        (["profile", "--model-id", "mnope1234"], "mnope1234"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    argv: list[str], message: str, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.replace("{model}", str(models_dir / "tiny_cnn.onnx")) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_failed_job_exits_1(tmp_path: Path, models_dir: Path) -> None:
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes((models_dir / "tiny_cnn.tflite").read_bytes()[:200])
    assert main(["profile", str(truncated), "--quiet"]) == 1


def test_options_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["options"]) == 0
    out = capsys.readouterr().out
    for name in (
        "--compute_unit",
        "--max_profiler_time",
        "qnn_htp_performance_mode",
        "context_htp_performance_mode",
        "gpu_inference_priority1",
    ):
        assert name in out
