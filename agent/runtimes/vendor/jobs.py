"""When a job goes through a vendor tool, and the profile job that runs it.

``vendor_tool_for`` decides; ``vendor_profile_job`` yields the same
``agent.events`` stream ``agent/session.py`` does, so the servicer, the
controller and the result schema need nothing new.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from agent import events
from agent.errors import InvalidModelError
from agent.runtimes.base import RunConfig
from agent.runtimes.libraries import Policy, find_library
from agent.runtimes.litert import plan_delegates
from agent.runtimes.litert_delegates import LIBRARIES
from agent.runtimes.vendor.benchmark_model import BENCHMARK_MODEL, find_benchmark_model
from agent.runtimes.vendor.qnn_net_run import QNN_NET_RUN, find_qnn_tools
from agent.runtimes.vendor.runners import BenchmarkModelRunner, QnnNetRunRunner, VendorRunner
from agent.session import ProfilePlan, should_stop

_ACCELERATOR_UNITS = {"all", "npu", "gpu"}
# A hung tool is killed after this long past what the budget predicts.
_TIMEOUT_MARGIN_S = 120.0


def on_android() -> bool:
    """True on Android: its shell (and so the agent it starts) has ``ANDROID_ROOT`` set.

    There the agent's glibc Python cannot load bionic vendor libraries, so no
    in-process runtime reaches the NPU or GPU.
    """
    return bool(os.environ.get("ANDROID_ROOT"))


def _wants_accelerator(config: RunConfig) -> bool:
    units = {unit.lower() for unit in config.compute_units} or {"all"}
    return bool(units & _ACCELERATOR_UNITS)


def _inprocess_qnn(config: RunConfig) -> bool:
    """Whether onnxruntime-qnn's HTP backend is there for the in-process QNN EP path."""
    if on_android():
        return False
    return find_library("libQnnHtp.so", config.library_dirs, Policy.QNN_EP) is not None


def _inprocess_tflite_delegates(config: RunConfig) -> bool:
    """Whether LiteRT in this process can load a library for an accelerator delegate asked for."""
    if on_android():
        return False
    wanted = plan_delegates(config).delegates
    dirs = config.library_dirs
    return any(find_library(LIBRARIES[name], dirs, Policy.DEVICE) is not None for name in wanted)


def vendor_tool_for(model_path: Path, config: RunConfig) -> str | None:
    """The vendor tool that should run this job, or None for the in-process runtimes.

    * a QNN model library (``qnn_lib_aarch64_android``, ``.so``): always ``qnn-net-run``
      (nothing else loads it);
    * a context binary or a TFLite model asked for the NPU/GPU: the tool, but only when
      the in-process runtimes cannot reach the accelerator here and the tool is on
      the device.

    Example:
        vendor_tool_for(Path("model.so"), config)  # "qnn-net-run"
    """
    model_type = config.model_type_of(model_path)
    if model_type == "qnn_lib_aarch64_android":
        return QNN_NET_RUN
    if not _wants_accelerator(config) and not config.tflite_delegates:
        return None
    if model_type == "qnn_context_binary":
        if _inprocess_qnn(config) or find_qnn_tools(config.library_dirs) is None:
            return None
        return QNN_NET_RUN
    if model_type == "tflite":
        if not plan_delegates(config).delegates or _inprocess_tflite_delegates(config):
            return None
        return BENCHMARK_MODEL if find_benchmark_model(config.library_dirs) else None
    return None


def make_runner(tool: str, model_path: Path, config: RunConfig) -> VendorRunner:
    """The runner for ``tool`` (a name ``vendor_tool_for`` returns)."""
    if tool == QNN_NET_RUN:
        return QnnNetRunRunner(model_path, config)
    if tool == BENCHMARK_MODEL:
        return BenchmarkModelRunner(model_path, config)
    raise InvalidModelError(f"{model_path.name}: no vendor tool called {tool!r}")


def runs_within_budget(plan: ProfilePlan, one_run_us: float) -> int:
    """Timed runs to ask the tool for: the iteration cap, or what the budget predicts.

    The tools cannot apply the documented predictive stop (``agent/session.should_stop``)
    themselves, so the count is sized from the cold pass's single inference (one extra
    for the estimate's error); ``trim_to_budget`` applies the exact rule to what was measured.
    """
    if one_run_us <= 0:
        return plan.max_iterations
    predicted = int(plan.max_time_s * 1e6 // one_run_us) + 1
    return max(1, min(plan.max_iterations, predicted))


def trim_to_budget(latencies_us: list[int], max_time_s: float) -> tuple[list[int], str]:
    """The documented predictive stop applied to measured runs, and the stop reason."""
    elapsed_us = 0
    for count, latency in enumerate(latencies_us):
        if should_stop(count, elapsed_us / 1e6, max_time_s):
            return latencies_us[:count], "max_time"
        elapsed_us += latency
    return latencies_us, "max_iterations"


def vendor_profile_job(
    model_path: Path, config: RunConfig, plan: ProfilePlan, tool: str | None = None
) -> Iterator[events.ProfileEvent]:
    """Profile ``model_path`` through its vendor tool; the events ``ProfileSession`` yields.

    Raises:
        InvalidModelError: No vendor tool applies to this model and job.
        MissingLibraryError: The tool or a library it needs is not on the device.
        AgentError: The tool failed; the message ends with its own output.
    """
    tool = tool or vendor_tool_for(model_path, config)
    if tool is None:
        raise InvalidModelError(f"{model_path.name}: no vendor tool applies to this job")
    runner = make_runner(tool, model_path, config)
    yield events.StageStarted("first_load")
    cold = runner.cold(_TIMEOUT_MARGIN_S + plan.max_time_s)
    yield events.LoadDone("first_load", round(cold.load_us), cold.peak_bytes, cold.increase_bytes)
    one_run_us = float(cold.latencies_us[0]) if cold.latencies_us else 0.0
    runs = runs_within_budget(plan, one_run_us)
    yield events.StageStarted("warm_load")
    timeout_s = _TIMEOUT_MARGIN_S + plan.max_time_s + 3 * (cold.load_us + one_run_us) / 1e6
    timed = runner.timed(plan.warmup_iterations, runs, plan.max_time_s, timeout_s)
    yield events.LoadDone("warm_load", round(timed.load_us), timed.peak_bytes, timed.increase_bytes)
    yield events.Applied(runner.applied, runner.inputs, [])
    yield events.StageStarted("warmup")
    yield events.StageStarted("inference")
    latencies, stop_reason = trim_to_budget(timed.latencies_us, plan.max_time_s)
    yield events.IterationTimes(0, latencies)
    if plan.layer_profile_iterations > 0:
        yield events.StageStarted("layer_profile")
        profiled = runner.layers(plan.layer_profile_iterations, timeout_s)
        for index, (layers, wall_us) in enumerate(profiled.layers):
            yield events.LayerIteration(index, layers, wall_us)
    yield events.Summary(
        iterations=len(latencies),
        stop_reason=stop_reason,
        loop_time_s=sum(latencies) / 1e6,  # the tool's own per-run times, not our clock
        peak_memory_bytes=timed.peak_bytes,
        memory_increase_bytes=timed.increase_bytes,
    )
