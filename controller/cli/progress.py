"""Progress on stderr for the CLI: push bar, stages, iteration counts, compile steps.

On a terminal lines update in place; in a log (not a TTY) each stage is one
line, so CI logs stay readable.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from protos import agent_pb2 as pb

_BAR_WIDTH = 30


def _emit(text: str, *, final: bool) -> None:
    tty = sys.stderr.isatty()
    prefix = "\r\033[K" if tty else ""
    print(prefix + text, end="\n" if final or not tty else "", file=sys.stderr, flush=True)


def _size(num_bytes: float) -> str:
    for unit in ("B", "KB", "MB"):
        if num_bytes < 1000:
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    return f"{num_bytes:.1f} GB"


class UploadBar:
    """``[#####.....] 12.0/50.0 MB`` while a model is pushed to a device."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = int(_BAR_WIDTH * done / total) if total else _BAR_WIDTH
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        final = done >= total
        if final or sys.stderr.isatty():
            _emit(f"push [{bar}] {_size(done)}/{_size(total)}", final=final)


class JobProgress:
    """Listener for a profile job's agent events, and helpers for other jobs."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.iterations = 0

    def announce(self, job: Any) -> None:
        if not self.quiet:
            _emit(f"[{job.job_id}] submitted", final=True)

    def __call__(self, job: Any, event: pb.ProfileEvent) -> None:
        if self.quiet:
            return
        kind = event.WhichOneof("event")
        if kind == "stage_started":
            stage = pb.Stage.Name(event.stage_started.stage).removeprefix("STAGE_").lower()
            _emit(f"[{job.id}] {stage.replace('_', ' ')}", final=True)
        elif kind == "iterations" and sys.stderr.isatty():
            self.iterations += len(event.iterations.latencies_us)
            _emit(f"[{job.id}] inference: {self.iterations} iterations", final=False)
        elif kind == "done":
            _emit(f"[{job.id}] done: {event.done.iterations} timed iterations", final=True)
        elif kind == "error":
            _emit(f"[{job.id}] error: {event.error.message}", final=True)

    def follow_messages(self, job: Any) -> None:
        """Print each new status message of a (compile) job while it runs."""
        if self.quiet:
            return
        self.announce(job)

        def follow() -> None:
            seen = ""
            while not (status := job.get_status()).finished:
                text = f"{status.label}: {status.message}" if status.message else ""
                if text and text != seen:
                    _emit(f"[{job.job_id}] {text}", final=True)
                    seen = text
                time.sleep(0.1)

        threading.Thread(target=follow, daemon=True).start()
