"""Progress on stderr for the CLI: push bar, stages, iteration counts, compile steps.

On a terminal the push and the timed iterations are ``tqdm`` bars that update in
place (the library ``controller/transports/adb.py`` uses for the device runtime's
push too); in a log (not a TTY) each stage is one line and no bar is drawn, so CI
logs stay readable. Why tqdm and not rich: the CLI's tables are stdout that scripts
and tests read (``controller/report_text.py``, ``devicelab jobs``), so their text
stays as written, and what is left is a bar, which tqdm (~0.6 MB, no dependencies,
already pulled in by ai-edge-litert) does as well as rich (+ pygments and
markdown-it, ~13 MB).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from tqdm import tqdm

from controller.events import ErrorReported, Finished, IterationTimes, ProfileEvent, StageStarted

_BAR_WIDTH = 30  # of the log line a push leaves when stderr is not a terminal


def _emit(text: str) -> None:
    """One line on stderr; on a terminal above any bar that is drawn."""
    if sys.stderr.isatty():
        tqdm.write(text, file=sys.stderr)
    else:
        print(text, file=sys.stderr, flush=True)


def _size(num_bytes: float) -> str:
    for unit in ("B", "KB", "MB"):
        if num_bytes < 1000:
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    return f"{num_bytes:.1f} GB"


class UploadBar:
    """The push of a model to a device: a bar on a terminal, one line in a log.

    It shows what the transport reports: ``total`` arrives only once the device
    confirmed the whole file (``controller/transports/adb_sync.py``), so the bar
    reaches 100 % then, and a failed push leaves it short.
    """

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._bar: tqdm[Any] | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if not sys.stderr.isatty():
            if done >= total:
                _emit(f"push [{'#' * _BAR_WIDTH}] {_size(done)}/{_size(total)}")
            return
        if self._bar is None:
            self._bar = tqdm(total=total, desc="push", unit="B", unit_scale=True, file=sys.stderr)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()
            self._bar = None


class JobProgress:
    """Listener for a profile job's events (``controller.events``), and helpers for other jobs."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._counter: tqdm[Any] | None = None

    def announce(self, job: Any) -> None:
        """``[job] submitted``."""
        if not self.quiet:
            _emit(f"[{job.job_id}] submitted")

    def __call__(self, job: Any, event: ProfileEvent) -> None:
        if self.quiet:
            return
        if isinstance(event, StageStarted):
            _emit(f"[{job.job_id}] {event.stage.replace('_', ' ')}")
        elif isinstance(event, IterationTimes):
            self._count(job, len(event.latencies_us))
        elif isinstance(event, Finished):
            self._end_count()
            _emit(f"[{job.job_id}] done: {event.iterations} timed iterations")
        elif isinstance(event, ErrorReported):
            self._end_count()
            _emit(f"[{job.job_id}] error: {event.message}")

    def _count(self, job: Any, new: int) -> None:
        """The timed iterations so far, in place on a terminal (a log gets the total)."""
        if not sys.stderr.isatty():
            return
        if self._counter is None:
            self._counter = tqdm(
                desc=f"[{job.job_id}] inference", unit=" it", file=sys.stderr, leave=False
            )
        self._counter.update(new)

    def finish(self) -> None:
        """Close the iteration counter (a job cancelled or lost sends no ``done``)."""
        self._end_count()

    def _end_count(self) -> None:
        if self._counter is not None:
            self._counter.close()
            self._counter = None

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
                    _emit(f"[{job.job_id}] {text}")
                    seen = text
                time.sleep(0.1)

        threading.Thread(target=follow, daemon=True).start()
