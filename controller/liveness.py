"""A frozen agent must not hang a job: the Profile stream's watchdog and stall flags.

Two kinds of limit, because the stages differ by orders of magnitude:

- **silence**: the agent sends an event, or a heartbeat from its main process
  while the job's own process is quiet (``agent/isolation.py``). No sign of life
  for ``DEVICELAB_AGENT_SILENCE_S`` fails the job, whatever the stage. A heartbeat
  saying the job's process is *stopped* is not a sign of life (SIGSTOP, a debugger).
- **per-stage deadline**: a backstop for a process that lives but never finishes.
  Loads may legitimately take minutes (QNN graph finalization of a big model, the
  HTP simulator), so they get ``DEVICELAB_LOAD_TIMEOUT_S``; the timed loop gets
  ``--max_profiler_time`` plus a grace, so a loop that overran by far fails.

After the fact, latencies far above the median (a freeze shorter than the silence
limit, then a resume) are flagged in the result's ``devicelab.stalls``, so a
frozen-then-resumed run cannot pass as a normal one.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from controller import settings
from protos import agent_pb2 as pb

# The defaults live in controller/settings.py's table; why they are what they are, here.
# 30 s: heartbeats come every 2 s (15 per silence), so only a frozen agent or a dead
# link stays silent that long; a job fails 30 s after its agent froze.
DEFAULT_AGENT_SILENCE_S = settings.seconds("DEVICELAB_AGENT_SILENCE_S", {})
# 30 min: the slowest load we know of is QNN graph finalization of a large model on
# the HTP simulator (minutes); a load is still alive while it heartbeats, this only
# ends one that lives but never finishes.
DEFAULT_LOAD_TIMEOUT_S = settings.seconds("DEVICELAB_LOAD_TIMEOUT_S", {})
# The timed loop may exceed --max_profiler_time by one iteration (the predictive stop
# always runs the first); budget + max(grace, budget) is "overran by far".
DEFAULT_STAGE_GRACE_S = settings.seconds("DEVICELAB_STAGE_GRACE_S", {})
_HEARTBEAT_S = 2.0  # what the agent uses by default; we ask for less under short limits
_FROZEN_STATES = frozenset({"stopped", "tracing-stop", "zombie", "dead"})
_STAGE_WORDS = {
    "start": "the job's start",
    "first_load": "the first load",
    "warm_load": "the warm load",
    "warmup": "the warm-up",
    "inference": "the timed loop",
    "layer_profile": "the profiled iterations",
}
# Latency outliers: 10x the median and at least 0.5 s above it. Scheduler jitter on a
# busy host reaches tens of milliseconds; half a second is a pause, not jitter.
OUTLIER_FACTOR = 10.0
OUTLIER_MIN_EXCESS_S = 0.5
# Loop time outside the timed calls (clock reads, flushes) is ~1 us per iteration
# here; a quarter of the loop, and at least a second, is a pause between iterations.
GAP_MIN_S = 1.0
GAP_MIN_FRACTION = 0.25
_MAX_LISTED_OUTLIERS = 20


@dataclass(frozen=True)
class StreamLimits:
    """How long a Profile stream may stay silent, and each stage may last (seconds)."""

    silence_s: float = DEFAULT_AGENT_SILENCE_S
    load_timeout_s: float = DEFAULT_LOAD_TIMEOUT_S
    stage_grace_s: float = DEFAULT_STAGE_GRACE_S

    @classmethod
    def from_env(cls) -> StreamLimits:
        """``DEVICELAB_AGENT_SILENCE_S`` (default 30), ``DEVICELAB_LOAD_TIMEOUT_S``
        (default 1800) and ``DEVICELAB_STAGE_GRACE_S`` (default 120)."""
        return cls(
            silence_s=settings.seconds("DEVICELAB_AGENT_SILENCE_S"),
            load_timeout_s=settings.seconds("DEVICELAB_LOAD_TIMEOUT_S"),
            stage_grace_s=settings.seconds("DEVICELAB_STAGE_GRACE_S"),
        )

    @property
    def heartbeat_s(self) -> float:
        """The beat to ask the agent for: at least four per silence limit."""
        return min(_HEARTBEAT_S, self.silence_s / 4)

    def stage_deadline_s(self, stage: str, max_time_s: float) -> float | None:
        """How long ``stage`` may last once started; None: silence alone bounds it."""
        if stage in ("first_load", "warm_load", "warmup"):
            return self.load_timeout_s
        if stage == "inference":
            return max_time_s + max(self.stage_grace_s, max_time_s)
        if stage == "layer_profile":  # some runtimes load the model again to profile it
            return self.load_timeout_s + self.stage_grace_s
        return None  # "start": waiting for the agent's job slot, spawning the process


class StreamWatchdog:
    """Watches one Profile stream; calls ``expire()`` once with ``reason`` set when a
    limit is crossed.

    Example:
        with StreamWatchdog(limits, max_time_s, stream.cancel) as watchdog:
            for event in stream:
                watchdog.saw(event)
        # on a broken stream: watchdog.reason says why it was cut
    """

    def __init__(
        self,
        limits: StreamLimits,
        max_time_s: float,
        expire: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.max_time_s = max_time_s
        self.reason: str | None = None
        self._expire = expire
        self._clock = clock
        self._lock = threading.Lock()
        self._stage = "start"
        self._stage_at = self._life_at = clock()
        self._frozen_state = ""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stream-watchdog", daemon=True)

    def __enter__(self) -> StreamWatchdog:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def saw(self, event: pb.ProfileEvent) -> None:
        """Record one message of the stream (heartbeats included)."""
        kind = event.WhichOneof("event")
        now = self._clock()
        with self._lock:
            if kind == "heartbeat" and event.heartbeat.process_state in _FROZEN_STATES:
                self._frozen_state = event.heartbeat.process_state  # the agent lives, the job not
                return
            self._life_at, self._frozen_state = now, ""
            if kind == "stage_started":
                stage = pb.Stage.Name(event.stage_started.stage).removeprefix("STAGE_").lower()
                self._stage, self._stage_at = stage, now

    def check(self) -> str | None:
        """Why the stream must be cut now, or None."""
        now = self._clock()
        with self._lock:
            silent_s = now - self._life_at
            words = _STAGE_WORDS.get(self._stage, self._stage)
            if silent_s > self.limits.silence_s:
                frozen = (
                    f" (the agent answers, but its job process is {self._frozen_state})"
                    if self._frozen_state
                    else ""
                )
                return f"no sign of life from the agent for {silent_s:.1f} s during {words}{frozen}"
            return self._overrun(now - self._stage_at, words)

    def _overrun(self, running_s: float, words: str) -> str | None:
        deadline = self.limits.stage_deadline_s(self._stage, self.max_time_s)
        if deadline is None or running_s <= deadline:
            return None
        budget = (
            f"--max_profiler_time {self.max_time_s:g} s plus grace"
            if self._stage == "inference"
            else "DEVICELAB_LOAD_TIMEOUT_S and grace"
        )
        return (
            f"{words} overran its time budget by far: still running after {running_s:.1f} s "
            f"(limit {deadline:g} s: {budget})"
        )

    def _watch(self) -> None:
        tick_s = min(0.5, self.limits.silence_s / 10)
        while not self._done.wait(tick_s):
            reason = self.check()
            if reason is not None:
                self.reason = reason
                self._expire()
                return


def find_stalls(latencies_us: list[int], loop_time_s: float) -> dict[str, Any] | None:
    """Pauses in a timed loop: outlier iterations and loop time outside iterations.

    None when the loop looks normal. Example: 99 iterations of 1 ms and one of 3 s
    give ``{"outlier_count": 1, "outliers": [{"index": 42, ...}], ...}``.
    """
    if not latencies_us:
        return None
    median_us = statistics.median(latencies_us)
    floor_us = max(OUTLIER_FACTOR * median_us, median_us + OUTLIER_MIN_EXCESS_S * 1e6)
    outliers = [(i, t) for i, t in enumerate(latencies_us) if t > floor_us]
    gap_s = loop_time_s - sum(latencies_us) / 1e6
    long_gap = gap_s >= GAP_MIN_S and gap_s >= GAP_MIN_FRACTION * loop_time_s
    if not outliers and not long_gap:
        return None
    return {
        "outlier_count": len(outliers),
        "outliers": [
            {"index": i, "latency_us": t, "times_median": round(t / max(median_us, 1), 1)}
            for i, t in outliers[:_MAX_LISTED_OUTLIERS]
        ],
        "loop_time_outside_iterations_s": round(gap_s, 3),
        "rule": (
            f"an iteration > {OUTLIER_FACTOR:g}x the median and > median + "
            f"{OUTLIER_MIN_EXCESS_S:g} s; or loop time outside iterations >= {GAP_MIN_S:g} s "
            f"and >= {GAP_MIN_FRACTION:.0%} of the loop"
        ),
    }


def stall_warning(stalls: dict[str, Any]) -> str:
    """One line for ``devicelab.warnings``: the run was paused, its numbers are suspect."""
    parts = []
    if stalls["outlier_count"]:
        worst = max(stalls["outliers"], key=lambda o: o["latency_us"])
        parts.append(
            f"{stalls['outlier_count']} iteration(s) far above the median "
            f"(worst {worst['latency_us'] / 1e6:.2f} s, {worst['times_median']:g}x)"
        )
    gap_s = stalls["loop_time_outside_iterations_s"]
    if gap_s >= GAP_MIN_S:
        parts.append(f"{gap_s:.2f} s of the timed loop passed outside iterations")
    return (
        "the timed loop was paused (a frozen agent or device?): "
        + "; ".join(parts)
        + " — see devicelab.stalls"
    )
