"""What does devicelab add to the latency it reports? Side by side, in one run.

For each model: a bare loop in this process (the runtime called directly, the
way a user would time it) and a devicelab profile job on the local device
(agent over gRPC, model in a fresh child process), alternating for several
rounds so machine noise hits both. Prints both medians and the ratio
agent / bare (target <= 1.02), plus the cost of per-layer profiling: the
median wall time of the profiled iterations over the unprofiled median.

    .venv/bin/python scripts/bench_overhead.py [--iterations 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def bare_onnx_loop(model: Path, iterations: int) -> list[float]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    spec = session.get_inputs()[0]
    feeds = {spec.name: np.random.default_rng(0).random(spec.shape, dtype=np.float32)}
    return _time(lambda: session.run(None, feeds), iterations)


def bare_litert_loop(model: Path, iterations: int) -> list[float]:
    from ai_edge_litert.interpreter import Interpreter

    # The agent's default for number_of_threads=-1: half the cores, at least one.
    interpreter = Interpreter(str(model), num_threads=max(1, (os.cpu_count() or 2) // 2))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    data = np.random.default_rng(0).random(detail["shape"], dtype=np.float32)
    interpreter.set_tensor(detail["index"], data)
    return _time(interpreter.invoke, iterations)


def _time(run: Callable[[], object], iterations: int) -> list[float]:
    run()  # warm-up, as the agent does
    latencies = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        run()
        latencies.append((time.perf_counter_ns() - start) / 1000)
    return latencies


def agent_job(model: Path, iterations: int, options: str) -> dict:
    import controller as hub

    job = hub.submit_profile_job(model, options=f"{options} --max_profiler_iterations {iterations}")
    job.wait(600)
    return job.download_profile()


def bench_model(
    label: str,
    model: Path,
    bare: Callable[[Path, int], list[float]],
    options: str,
    args: argparse.Namespace,
) -> dict[str, float]:
    bare_all: list[float] = []
    agent_all: list[float] = []
    profiled_walls: list[float] = []
    for _ in range(args.rounds):
        bare_all += bare(model, args.iterations)
        result = agent_job(model, args.iterations, options)
        agent_all += result["execution_summary"]["all_inference_times"]
        profiled_walls += result["devicelab"]["layer_profile_wall_times_us"]
    row = {
        "bare_median_us": statistics.median(bare_all),
        "agent_median_us": statistics.median(agent_all),
        "profiled_median_us": statistics.median(profiled_walls) if profiled_walls else 0.0,
    }
    row["ratio"] = row["agent_median_us"] / row["bare_median_us"]
    row["profiling_cost"] = row["profiled_median_us"] / row["agent_median_us"]
    print(
        f"{label:<34} bare {row['bare_median_us']:>9.1f} us   agent {row['agent_median_us']:>9.1f}"
        f" us   ratio {row['ratio']:.3f}   profiled/unprofiled {row['profiling_cost']:.2f}",
        flush=True,
    )
    return row


def make_models(directory: Path) -> dict[str, Path]:
    import onnx

    from controller.samples.onnx_models import build_tiny_cnn, write_tiny_cnn_onnx
    from controller.samples.tflite_models import write_mobilenet_like_tflite, write_tiny_cnn_tflite

    medium = directory / "cnn_medium.onnx"
    onnx.save_model(build_tiny_cnn(input_size=128, channels=(3, 32, 64)), str(medium))
    return {
        "onnx tiny (CPU EP)": write_tiny_cnn_onnx(directory / "tiny_cnn.onnx"),
        "onnx medium 128x128 (CPU EP)": medium,
        "tflite tiny (XNNPACK)": write_tiny_cnn_tflite(directory / "tiny_cnn.tflite"),
        "tflite mobilenet-like (XNNPACK)": write_mobilenet_like_tflite(
            directory / "mobilenet_like.tflite"
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DEVICELAB_HOME", tempfile.mkdtemp(prefix="devicelab-bench-"))
    with tempfile.TemporaryDirectory() as tmp:
        models = make_models(Path(tmp))
        print(f"{args.rounds} rounds x {args.iterations} iterations, bare and agent alternating\n")
        for label, model in models.items():
            if label.startswith("onnx"):
                bench_model(label, model, bare_onnx_loop, "--compute_unit cpu", args)
            else:
                bench_model(label, model, bare_litert_loop, "--compute_unit cpu", args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
