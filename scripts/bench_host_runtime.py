"""This host's agent on devicelab's managed runtime vs on the controller's own Python.

Builds (or reuses) the managed x86_64 runtime and prints its build time and size,
then, alternating the two modes of ``DEVICELAB_LOCAL_RUNTIME`` for several rounds
so machine noise hits both, a fresh agent's start time and CPU profile jobs on the
sample models: first-load median, inference median and the job's wall time, each
side by side with the ratio managed / current.

    .venv/bin/python scripts/bench_host_runtime.py [--rounds 3] [--iterations 100] [--rebuild]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODES = ("current", "managed")
MODELS = ("tiny_cnn.onnx", "tiny_cnn.tflite", "mobilenet_like.tflite")


def build(rebuild: bool) -> None:
    import platform

    from controller.device_runtime.build import build_runtime

    start = time.perf_counter()
    bundle = build_runtime(platform.machine(), qnn=True, rebuild=rebuild)
    seconds = time.perf_counter() - start
    print(f"runtime {bundle.runtime_id} ({platform.machine()}, onnxruntime-qnn): "
          f"{'built' if rebuild else 'built or reused'} in {seconds:.1f} s")  # fmt: skip
    print(f"  on disk {bundle.manifest['unpacked_bytes'] / 1e6:.0f} MB in "
          f"{bundle.manifest['files']} files; archive {bundle.size / 1e6:.0f} MB")  # fmt: skip


def first_start(mode: str) -> float:
    """Wall time of an agent's start, unpacking the runtime first for ``managed``."""
    import shutil

    from controller.settings import home_dir
    from controller.transports.local import LocalTransport

    shutil.rmtree(home_dir() / "runtimes" / "host", ignore_errors=True)
    start = time.perf_counter()
    transport = LocalTransport(mode=mode)
    transport.connect()
    seconds = time.perf_counter() - start
    transport.close()
    return seconds


def agent_start(mode: str) -> float:
    from controller.transports.local import LocalTransport

    transport = LocalTransport(mode=mode)
    start = time.perf_counter()
    transport.connect()
    seconds = time.perf_counter() - start
    transport.close()
    return seconds


def profile(model: Path, iterations: int) -> dict[str, float]:
    import controller as hub

    options = f"--compute_unit cpu --max_profiler_iterations {iterations}"
    start = time.perf_counter()
    job = hub.submit_profile_job(model, options=options)
    status = job.wait(timeout=600)
    wall = time.perf_counter() - start
    if not status.success:
        raise SystemExit(f"{model.name}: {status.message}")
    result: dict[str, Any] = job.download_profile()
    summary = result["execution_summary"]
    source = result["devicelab"]["environment"]["device"]["python"]["source"]
    return {"first_load_ms": summary["first_load_time"] / 1e3,
            "inference_ms": summary["estimated_inference_time"] / 1e3,
            "job_s": wall, "source": source}  # fmt: skip


def round_once(models: Path, iterations: int, samples: dict[tuple[str, str, str], list]) -> None:
    import controller as hub

    for mode in MODES:
        os.environ["DEVICELAB_LOCAL_RUNTIME"] = mode
        hub.api.current_registry().close()  # the next job starts an agent in this mode
        samples[(mode, "agent", "start_s")].append(agent_start(mode))
        for name in MODELS:
            measured = profile(models / name, iterations)
            assert measured.pop("source") == mode
            for key, value in measured.items():
                samples[(mode, name, key)].append(value)
    hub.api.current_registry().close()


def report(samples: dict[tuple[str, str, str], list]) -> None:
    print(f"{'what':40} {'current':>10} {'managed':>10} {'ratio':>7}")
    keys = sorted({(what, key) for _, what, key in samples}, key=lambda k: (k[0] != "agent", k))
    for what, key in keys:
        current = statistics.median(samples[("current", what, key)])
        managed = statistics.median(samples[("managed", what, key)])
        print(f"{what + ' ' + key:40} {current:10.3f} {managed:10.3f} {managed / current:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument(
        "--rebuild", action="store_true", help="time a build (download caches warm)"
    )
    args = parser.parse_args()
    os.environ.setdefault("DEVICELAB_HOME", tempfile.mkdtemp(prefix="devicelab-bench-"))
    os.environ["DEVICELAB_WORKER"] = "inprocess"
    from collections import defaultdict

    from controller.samples import write_samples

    build(args.rebuild)
    print(f"first agent start (unpack + verify + start): managed {first_start('managed'):.1f} s")
    samples: dict[tuple[str, str, str], list] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        write_samples(Path(tmp))
        for _ in range(args.rounds):
            round_once(Path(tmp), args.iterations, samples)
    report(samples)


if __name__ == "__main__":
    main()
