"""Peak memory of the agent process, per stage.

Linux (and Android) keep the process's peak RSS in ``VmHWM`` and let a process
reset it by writing ``5`` to ``/proc/self/clear_refs``; that gives a true peak
per stage without a sampling thread disturbing the timed loop. Where either is
unavailable we fall back to psutil's current RSS (a lower bound of the peak).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psutil

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_HWM = re.compile(r"^VmHWM:\s+(\d+)\s+kB", re.MULTILINE)


def current_rss_bytes() -> int:
    return int(psutil.Process().memory_info().rss)


def _read_hwm_bytes() -> int | None:
    try:
        match = _HWM.search(_STATUS.read_text())
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


@cache
def peak_memory_method() -> str:
    """How this process measures a stage's peak: recorded in every result.

    ``VmHWM reset per stage`` where ``/proc/self/clear_refs`` is writable (Linux,
    most Android builds); otherwise ``RSS at stage start and end`` (a lower bound
    of the peak).
    """
    if _read_hwm_bytes() is not None and _reset_hwm():
        return "VmHWM reset per stage"
    return "RSS at stage start and end (clear_refs not writable)"


def _reset_hwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


@dataclass
class StageMemory:
    peak_bytes: int
    increase_bytes: int


class PeakMemoryMeter:
    """Measures peak and increase of RSS across one stage.

    Example:
        meter = PeakMemoryMeter()
        meter.start()
        model = runtime.load(path, config)
        stage = meter.stop()   # StageMemory(peak_bytes=..., increase_bytes=...)
    """

    def __init__(self) -> None:
        self._rss_before = 0
        self._hwm_reset = False

    def start(self) -> None:
        self._rss_before = current_rss_bytes()
        self._hwm_reset = _reset_hwm()

    def stop(self) -> StageMemory:
        rss_after = current_rss_bytes()
        hwm = _read_hwm_bytes() if self._hwm_reset else None
        peak = max(hwm or 0, rss_after, self._rss_before)
        return StageMemory(peak_bytes=peak, increase_bytes=rss_after - self._rss_before)
