"""The two vendor tools behind one small interface the job uses.

Each runner does three passes, each a fresh process of the tool:

1. ``cold``: load and one inference. Gives the first (cold) load time and an
   estimate of one inference, used to size the timed pass to the time budget.
2. ``timed``: warm load, warm-up and the timed runs, with no per-op profiling
   (profilers change what they measure: ``agent/session.py``).
3. ``layers``: a few runs with per-op profiling, for the per-layer table only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agent.errors import AgentError, DelegateError, MissingLibraryError
from agent.runtimes.base import AppliedConfig, RunConfig
from agent.runtimes.litert import check_model_file
from agent.runtimes.litert_delegates import GeneralOptions
from agent.runtimes.vendor import benchmark_flags, benchmark_model, qnn_net_run
from agent.runtimes.vendor._process import ToolRun, run_tool, tool_env
from agent.runtimes.vendor.benchmark_model import BenchmarkOutput, parse_benchmark_output
from agent.runtimes.vendor.qnn_options import plan_net_run_options
from agent.runtimes.vendor.qnn_profile_viewer import execution_latencies_us, layers_of
from contract.layers import LayerTiming
from contract.tensors import TensorInfo

NOT_ON_HARDWARE = (
    "{tool}: implemented against the vendor tool's documented flags and output; "
    "not run on hardware by devicelab's tests"
)


@dataclass
class Pass:
    """What one pass of a tool measured (times in microseconds)."""

    load_us: float
    peak_bytes: int
    increase_bytes: int
    latencies_us: list[int] = field(default_factory=list)
    layers: list[tuple[list[LayerTiming], float]] = field(
        default_factory=list
    )  # (LayerTiming rows, wall)


class VendorRunner(Protocol):
    tool: str
    applied: AppliedConfig
    inputs: list[TensorInfo]

    def cold(self, timeout_s: float) -> Pass: ...

    def timed(self, warmup: int, runs: int, max_time_s: float, timeout_s: float) -> Pass: ...

    def layers(self, runs: int, timeout_s: float) -> Pass: ...


class QnnNetRunRunner:
    """qnn-net-run + qnn-profile-viewer for a ``.so`` model library or ``.bin`` context."""

    tool = qnn_net_run.QNN_NET_RUN

    def __init__(self, model_path: Path, config: RunConfig) -> None:
        tools = qnn_net_run.require_qnn_tools(config.library_dirs)
        workdir = config.workdir / "qnn-net-run"
        workdir.mkdir(parents=True, exist_ok=True)
        backend, fallbacks = _first_backend(tools, config)
        context_binary = config.model_type_of(model_path) == "qnn_context_binary"
        plan = plan_net_run_options(config.qnn, backend.key, context_binary)
        self.inputs = qnn_net_run.input_specs(
            model_path, config, plan.enable_graphs, context_binary
        )
        input_list = qnn_net_run.write_input_list(self.inputs, workdir, config)
        config_file, warnings = qnn_net_run.write_config_file(plan, tools, config, workdir)
        self.net_run = qnn_net_run.NetRun(
            tools,
            model_path,
            backend,
            input_list,
            config_file,
            plan.perf_profile,
            config.library_dirs,
            config.htp_arch,
            context_binary,
        )
        settings = {**plan.settings, "backend": backend.library, "latency_profiling": "basic"}
        if plan.perf_profile:
            settings["perf_profile"] = plan.perf_profile
        self.applied = AppliedConfig(
            runtime=self.tool,
            runtime_version=qnn_net_run.tool_version(tools, workdir),
            accelerators=[backend.library],
            fallbacks=fallbacks,
            warnings=[NOT_ON_HARDWARE.format(tool=self.tool), *plan.warnings, *warnings],
            settings=settings,
        )

    def cold(self, timeout_s: float) -> Pass:
        result = self.net_run.run("cold", 1, "basic", timeout_s)
        return Pass(
            result.summary.load_us,
            result.run.peak_rss_bytes,
            result.run.peak_rss_bytes,
            execution_latencies_us(result.executions),
        )

    def timed(self, warmup: int, runs: int, max_time_s: float, timeout_s: float) -> Pass:
        # Basic profiling records one event per execute call, not per op: the per-run
        # "QNN (execute) time" comes without the per-op instrumentation of "detailed".
        result = self.net_run.run("timed", warmup + runs, "basic", timeout_s)
        latencies = execution_latencies_us(result.executions)[warmup:]
        if not latencies and result.summary.netrun_average_us is not None:
            latencies = [round(result.summary.netrun_average_us)]
            self.applied.warnings.append(
                "qnn-profile-viewer gave no per-inference rows: the one latency is its average"
            )
        peak = result.run.peak_rss_bytes
        return Pass(result.summary.load_us, peak, peak, latencies)

    def layers(self, runs: int, timeout_s: float) -> Pass:
        result = self.net_run.run("layers", runs, "detailed", timeout_s)
        unit = self.net_run.backend.compute_unit
        rows = [(layers_of(e, unit), e.execute_us or 0.0) for e in result.executions[-runs:]]
        peak = result.run.peak_rss_bytes
        return Pass(result.summary.load_us, peak, peak, layers=rows)


def _first_backend(
    tools: qnn_net_run.QnnTools, config: RunConfig
) -> tuple[qnn_net_run.QnnBackendLib, list[str]]:
    """The first requested backend whose library is present; fallback lines for the others."""
    fallbacks: list[str] = []
    for backend in qnn_net_run.requested_backends(config):
        if tools.library(backend.library) is not None:
            return backend, fallbacks
        searched = ", ".join(str(d) for d in tools.lib_dirs) or "nowhere"
        fallbacks.append(f"{backend.key}: {backend.library} not found (searched: {searched})")
    raise MissingLibraryError(
        f"no QNN backend library for {qnn_net_run.QNN_NET_RUN}: {'; '.join(fallbacks)}; set "
        f"{qnn_net_run.SDK_ENV} on the device to the QNN SDK (lib/aarch64-android/libQnnHtp.so)"
    )


class BenchmarkModelRunner:
    """The user's TFLite benchmark_model, one delegate per attempt."""

    tool = benchmark_model.BENCHMARK_MODEL

    def __init__(self, model_path: Path, config: RunConfig) -> None:
        check_model_file(model_path)
        self.exe = benchmark_model.require_benchmark_model(config.library_dirs)
        self.model_path, self.config = model_path, config
        self.workdir = config.workdir / "benchmark_model"
        self.attempts, fallbacks = benchmark_flags.attempts(config)
        general = GeneralOptions.from_values(config.tflite.values)
        self.enable_fallback = general.enable_fallback
        self.inputs: list[TensorInfo] = []  # benchmark_model makes its own random inputs
        self.applied = AppliedConfig(
            runtime=self.tool,
            runtime_version="",
            fallbacks=fallbacks,
            warnings=[
                NOT_ON_HARDWARE.format(tool=self.tool),
                *benchmark_flags.general_warnings(general),
            ],
        )
        self.output: BenchmarkOutput | None = None

    def _run(
        self, name: str, runs: int, warmup: int, max_secs: float, timeout_s: float, extra: list[str]
    ) -> tuple[ToolRun, BenchmarkOutput]:
        """Run the current attempt; on failure drop to the next one (fallback) and retry."""
        while True:
            attempt = self.attempts[0]
            argv = benchmark_model.benchmark_argv(
                self.exe, self.model_path, runs, warmup, max_secs, [*attempt.flags, *extra]
            )
            run = run_tool(argv, timeout_s, self.workdir / name, tool_env(self.config.library_dirs))
            output = parse_benchmark_output(run.stdout + "\n" + run.stderr)
            if run.returncode == 0 and not _failed(output):
                break
            reason = output.failure or run.failure(self.tool)
            if attempt.delegate is None:
                raise AgentError(f"{self.tool} failed on the CPU: {reason}")
            if not self.enable_fallback or len(self.attempts) == 1:
                raise DelegateError(f"{attempt.delegate}: {reason}")
            self.applied.fallbacks.append(f"{attempt.delegate}: {reason}")
            self.attempts.pop(0)
        self._record(attempt)
        return run, output

    def _record(self, attempt: benchmark_flags.Attempt) -> None:
        self.applied.accelerators = attempt.accelerators
        for warning in attempt.warnings:
            if warning not in self.applied.warnings:
                self.applied.warnings.append(warning)
        self.applied.settings.update(attempt.settings)
        self.applied.settings["flags"] = " ".join(attempt.flags)

    def cold(self, timeout_s: float) -> Pass:
        run, out = self._run("cold", 1, 0, timeout_s, timeout_s, [])
        first = [round(out.first_inference_us)] if out.first_inference_us is not None else []
        return _benchmark_pass(run, out, first)

    def timed(self, warmup: int, runs: int, max_time_s: float, timeout_s: float) -> Pass:
        run, out = self._run("timed", runs, warmup, max_time_s, timeout_s, [])
        self.output = out
        stats = out.runs
        if stats is None:
            raise AgentError(f"{self.tool} printed no timing statistics: {run.failure(self.tool)}")
        # No per-run latencies in its output: report the one statistic that stands for
        # the loop, and say so.
        value = stats.get("median") or stats.get("avg") or 0.0
        which = "median" if stats.get("median") else "average"
        self.applied.warnings.append(
            f"{self.tool} prints aggregate latency only: the one inference time recorded is "
            f"its {which} over {stats.count} runs (min/max/std in settings)"
        )
        self.applied.settings.update(
            {f"runs_{key}_us": f"{val:g}" for key, val in stats.values.items()}
        )
        self.applied.settings["runs_count"] = str(stats.count)
        return _benchmark_pass(run, out, [round(value)])

    def layers(self, runs: int, timeout_s: float) -> Pass:
        run, out = self._run(
            "layers", runs, 1, timeout_s, timeout_s, ["--enable_op_profiling=true"]
        )
        unit = self.attempts[0].compute_unit
        layers = benchmark_model.op_layers(out.ops, unit)
        wall = (out.op_runs.get("avg") if out.op_runs else None) or out.inference_avg_us or 0.0
        result = _benchmark_pass(run, out, [])
        result.layers = [(layers, wall)] if layers else []
        self.applied.settings["layer_times"] = f"{self.tool} op-profiling averages over {runs} runs"
        return result


def _failed(output: BenchmarkOutput) -> bool:
    # ERROR lines alone can be benign logging; these two mean the run did not happen.
    failure = output.failure or ""
    return "Failed to apply" in failure or "Benchmarking failed" in failure


def _benchmark_pass(run: ToolRun, out: BenchmarkOutput, latencies: list[int]) -> Pass:
    # The tool's own footprint lines when printed; else the child's peak RSS.
    peak = out.overall_memory_bytes or run.peak_rss_bytes
    increase = out.init_memory_bytes or run.peak_rss_bytes
    return Pass(out.init_us or 0.0, peak, increase, latencies)
