"""One profile job on the device: load twice, warm up, time the loop, profile layers.

The order and its reasons:
1. first (cold) load and a warm load (after releasing the first) — both timed,
   with peak memory per stage;
2. warm-up iterations, excluded from results (caches, lazy allocations);
3. the timed loop, bounded by ``max_iterations`` and ``max_time_s`` with the
   predictive stop: before each iteration, stop if the running average
   predicts that one more would overshoot the budget. Nothing but ``run()``
   and the clock sits between the two clock reads;
4. separate profiled iterations for per-layer timings, because profilers
   change what they measure (recording LiteRT's per-op events cost 0–30 % of the
   median latency on this project's sample models).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent import events
from agent.inputs import make_feeds
from agent.memory import PeakMemoryMeter, peak_memory_method
from agent.runtimes.base import LoadedModel, RunConfig, Runtime


@dataclass(frozen=True)
class ProfilePlan:
    max_iterations: int = 100
    max_time_s: float = 600.0
    warmup_iterations: int = 1
    layer_profile_iterations: int = 3
    # Latencies are flushed to the stream at most this often, so a long loop is
    # visible while it runs without a message per iteration. The flushes are also the
    # job's sign of life: the agent beats on its own only after a heartbeat without
    # any item, so the server sets this a little under the heartbeat (agent/server.py)
    # and nothing but the loop's own progress wakes the agent while the loop runs.
    # Each message costs the agent ~12 wake-ups of gRPC's threads and ~1 ms of CPU
    # (scripts/bench_agent_footprint.py): one per heartbeat, not more.
    flush_interval_s: float = 0.5


def should_stop(iterations_done: int, elapsed_s: float, max_time_s: float) -> bool:
    """The documented predictive stop: would one more iteration exceed the budget?

    The running average includes everything the loop spends per iteration, so
    the prediction is about the loop's wall time, which is what the budget caps.

    Example:
        should_stop(4, 8.0, 10.0)  # average 2 s, 8 + 2 > 10 -> False (exactly 10)
        should_stop(4, 8.5, 10.0)  # 8.5 + 2.125 > 10 -> True
    """
    if iterations_done == 0:
        return False  # always run one, or there is nothing to report
    return elapsed_s + elapsed_s / iterations_done > max_time_s


class ProfileSession:
    """Runs one job and yields ``agent.events`` as it goes."""

    def __init__(
        self,
        runtime: Runtime,
        model_path: Path,
        config: RunConfig,
        plan: ProfilePlan,
    ) -> None:
        # No cancel flag here: a job runs in its own process (agent/isolation.py),
        # and cancelling it terminates that process, so the loop checks nothing.
        self.runtime = runtime
        self.model_path = model_path
        self.config = config
        self.plan = plan

    def run(self) -> Iterator[events.ProfileEvent]:
        yield events.StageStarted("first_load")
        first, loaded = self._timed_load("first_load")
        yield loaded
        first.close()
        yield events.StageStarted("warm_load")
        model, loaded = self._timed_load("warm_load")
        yield loaded
        try:
            model.applied.settings.setdefault("peak_memory_method", peak_memory_method())
            yield events.Applied(model.applied, model.inputs, model.outputs)
            feeds = make_feeds(model.inputs, self.config.input_shapes)
            model.set_inputs(feeds)
            yield events.StageStarted("warmup")
            for _ in range(self.plan.warmup_iterations):
                model.run()
            summary = yield from self._timed_loop(model)
        finally:
            model.close()
        yield from self._layer_profile(feeds)
        yield summary

    def _timed_load(self, stage: str) -> tuple[LoadedModel, events.LoadDone]:
        meter = PeakMemoryMeter()
        meter.start()
        start = time.perf_counter_ns()
        model = self.runtime.load(self.model_path, self.config)
        elapsed_us = (time.perf_counter_ns() - start) // 1000
        memory = meter.stop()
        return model, events.LoadDone(stage, elapsed_us, memory.peak_bytes, memory.increase_bytes)

    def _timed_loop(
        self, model: LoadedModel
    ) -> Generator[events.ProfileEvent, None, events.Summary]:
        yield events.StageStarted("inference")
        plan, run, clock = self.plan, model.run, time.perf_counter_ns
        latencies_ns: list[int] = []
        flushed = 0
        stop_reason = "max_iterations"
        flush_ns = int(plan.flush_interval_s * 1e9)
        meter = PeakMemoryMeter()
        meter.start()
        cpu_start = os.times()
        loop_start = last_flush = clock()
        for i in range(plan.max_iterations):
            now = clock()
            if should_stop(i, (now - loop_start) / 1e9, plan.max_time_s):
                stop_reason = "max_time"
                break
            t0 = clock()
            run()
            latencies_ns.append(clock() - t0)
            if t0 - last_flush >= flush_ns:
                yield events.IterationTimes(flushed, _to_us(latencies_ns[flushed:]))
                flushed, last_flush = len(latencies_ns), clock()
        loop_time_s = (clock() - loop_start) / 1e9
        cpu_end = os.times()
        memory = meter.stop()
        if flushed < len(latencies_ns):
            yield events.IterationTimes(flushed, _to_us(latencies_ns[flushed:]))
        return events.Summary(
            iterations=len(latencies_ns),
            stop_reason=stop_reason,
            loop_time_s=loop_time_s,
            peak_memory_bytes=memory.peak_bytes,
            memory_increase_bytes=memory.increase_bytes,
            cpu_user_s=cpu_end.user - cpu_start.user,
            cpu_system_s=cpu_end.system - cpu_start.system,
        )

    def _layer_profile(self, feeds: dict[str, np.ndarray]) -> Iterator[events.ProfileEvent]:
        count = self.plan.layer_profile_iterations
        if count <= 0:
            return
        yield events.StageStarted("layer_profile")
        per_iteration = self.runtime.profile_layers(self.model_path, self.config, feeds, count)
        for index, iteration in enumerate(per_iteration):
            yield events.LayerIteration(index, iteration.layers, iteration.wall_time_us)


def _to_us(latencies_ns: list[int]) -> list[int]:
    return [ns // 1000 for ns in latencies_ns]
