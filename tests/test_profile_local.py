"""A user's day on the embedded default device (this host), end to end.

Each test submits a job through the public API; the controller starts the real
agent as a subprocess and talks to it over real gRPC; the agent runs the real
runtimes (ONNX Runtime CPU EP, the QNN HTP backend as a simulator, LiteRT).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import controller as hub

JOB_TIMEOUT_SEC = 240


def profile(model: Path, options: str = "", **kwargs: Any) -> dict[str, Any]:
    job = hub.submit_profile_job(model, options=options, **kwargs)
    status = job.wait(timeout=JOB_TIMEOUT_SEC)
    assert status.success, status.message
    return job.download_profile()


def assert_layers_consistent(result: dict[str, Any], unit: str, min_coverage: float) -> None:
    """Per-layer entries exist, are well formed, and fit in the profiled runs' wall time.

    Tolerance: layers run inside their profiled run, so their sum may exceed the
    run's wall time by 5% at most (clock granularity). From below, the layers
    must cover ``min_coverage`` of it: high on a model whose runs are mostly
    kernels, low on the tiny models where the runtime's fixed per-run cost
    (tens of microseconds) is most of a run.
    """
    layers = result["execution_detail"]
    assert layers, "no per-layer timings"
    assert all(entry["execution_time"] >= 0 for entry in layers)
    assert sum(entry["execution_time"] for entry in layers) > 0
    assert unit in {entry["compute_unit"] for entry in layers}
    extra = result["devicelab"]
    coverage = extra["layer_coverage"]
    assert coverage["max"] <= 1.05, coverage
    assert coverage["median"] >= min_coverage, coverage


@pytest.fixture(params=["current", "managed"])
def local_runtime(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The local agent on this venv's Python, or on devicelab's managed runtime."""
    if request.param == "managed":
        request.getfixturevalue("managed_host_runtime")
    hub.api.current_registry().close()  # the next job starts the local agent in this mode
    monkeypatch.setenv("DEVICELAB_LOCAL_RUNTIME", request.param)
    yield request.param
    hub.api.current_registry().close()


def test_onnx_on_cpu_reports_cpu_layers_and_summary(models_dir: Path, local_runtime: str) -> None:
    result = profile(
        models_dir / "tiny_cnn.onnx", "--compute_unit cpu --max_profiler_iterations 20"
    )
    summary = result["execution_summary"]
    assert len(summary["all_inference_times"]) == 20
    assert summary["estimated_inference_time"] > 0
    assert summary["first_load_time"] > 0 and summary["warm_load_time"] > 0
    assert summary["estimated_inference_peak_memory"] > 0
    assert_layers_consistent(result, "CPU", min_coverage=0.2)
    assert {e["compute_unit"] for e in result["execution_detail"]} == {"CPU"}
    assert {"Conv", "Gemm", "Softmax"} <= {e["type"] for e in result["execution_detail"]}
    assert result["devicelab"]["applied"]["accelerators"] == ["CPUExecutionProvider"]
    python = result["devicelab"]["environment"]["device"]["python"]
    assert python["source"] == local_runtime
    if local_runtime == "managed":  # devicelab's pinned runtime, not this venv's packages
        assert "/runtimes/host/" in python["command"] and python["runtime"]["arch"] == "x86_64"
        pinned = python["runtime"]["wheels"]["onnxruntime"]
        assert result["devicelab"]["environment"]["runtimes"]["onnxruntime"] == pinned


def test_quantized_onnx_runs_on_the_htp_backend(models_dir: Path) -> None:
    result = profile(
        models_dir / "tiny_cnn_qdq.onnx", "--compute_unit npu --max_profiler_iterations 3"
    )
    assert_layers_consistent(result, "NPU", min_coverage=0.5)
    npu_layers = [e for e in result["execution_detail"] if e["compute_unit"] == "NPU"]
    assert any(e["type"] == "Conv" for e in npu_layers)
    assert all("execution_cycles" in e for e in npu_layers)
    assert "QNNExecutionProvider" in result["devicelab"]["applied"]["accelerators"]


def test_tflite_on_xnnpack(models_dir: Path) -> None:
    result = profile(
        models_dir / "tiny_cnn.tflite", "--compute_unit cpu --max_profiler_iterations 10"
    )
    assert len(result["execution_summary"]["all_inference_times"]) == 10
    assert_layers_consistent(result, "CPU", min_coverage=0.0)
    assert result["devicelab"]["applied"]["runtime"] == "litert"
    assert result["devicelab"]["applied"]["accelerators"] == ["xnnpack"]


def test_tflite_layers_account_for_a_real_sized_run(models_dir: Path) -> None:
    result = profile(
        models_dir / "mobilenet_like.tflite", "--compute_unit cpu --max_profiler_iterations 5"
    )
    assert_layers_consistent(result, "CPU", min_coverage=0.7)


def test_max_profiler_iterations_runs_exactly_that_many(models_dir: Path) -> None:
    result = profile(models_dir / "tiny_cnn.onnx", "--compute_unit cpu --max_profiler_iterations=7")
    assert len(result["execution_summary"]["all_inference_times"]) == 7
    assert result["devicelab"]["iterations"] == 7
    assert result["devicelab"]["stop_reason"] == "max_iterations"


def test_max_profiler_time_stops_the_loop_within_one_iteration(models_dir: Path) -> None:
    budget_s = 0.3
    result = profile(
        models_dir / "tiny_cnn.onnx",
        f"--compute_unit cpu --max_profiler_iterations 100000000 --max_profiler_time {budget_s}",
    )
    extra = result["devicelab"]
    times_us = result["execution_summary"]["all_inference_times"]
    assert extra["stop_reason"] == "max_time"
    assert 1 < extra["iterations"] < 100000000
    # The last iteration started only when the running average predicted it would
    # fit, so the loop can overshoot by at most that one iteration's latency.
    assert extra["loop_time_s"] <= budget_s + max(times_us) / 1e6


def test_dynamic_input_made_static_from_input_specs(models_dir: Path) -> None:
    result = profile(
        models_dir / "tiny_cnn_dynamic.onnx",
        "--compute_unit cpu --max_profiler_iterations 3",
        input_specs={"image": (2, 3, 32, 32)},
    )
    inputs = result["devicelab"]["applied"]["inputs"]
    assert inputs[0]["name"] == "image"


def test_result_has_the_cloud_services_keys(models_dir: Path) -> None:
    result = profile(models_dir / "tiny_cnn.onnx", "--compute_unit cpu --max_profiler_iterations 2")
    expected = {
        "estimated_inference_time",
        "estimated_inference_peak_memory",
        "first_load_time",
        "first_load_peak_memory",
        "warm_load_time",
        "warm_load_peak_memory",
        "compile_time",
        "compile_peak_memory",
        "all_inference_times",
        "all_first_load_times",
        "all_warm_load_times",
        "all_compile_times",
    }
    assert expected <= set(result["execution_summary"])
    for entry in result["execution_detail"]:
        assert {"name", "type", "compute_unit", "execution_time"} <= set(entry)


@pytest.mark.parametrize("unit", ["cpu", "all"])
def test_cli_profile_prints_summary_and_layer_table(
    models_dir: Path, tmp_path: Path, unit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from controller.cli import main

    out_json = tmp_path / "result.json"
    code = main(
        [
            "profile",
            str(models_dir / "tiny_cnn.tflite"),
            "--options",
            f"--compute_unit {unit} --max_profiler_iterations 5",
            "--json",
            str(out_json),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "inference median" in out and "first load" in out and "share" in out
    assert out_json.exists()
