"""An entry's nightly history and the step changes in it.

Every suite run stores each entry x device result (``Store.add_regress_run``); the
history is the candidate's median per run, oldest first. Change points come from
Apache Otava (PyPI ``apache-otava``): E-Divisive means over sliding windows, then
a Student t-test merge step that keeps only significant steps (Fleming et al.,
"Hunter: Using Change Point Detection to Hunt for Performance Regressions",
https://doi.org/10.1145/3578244.3583719). Over windows of nights it finds a slow
creep that no single night's A/B comparison flagged, and the night it started.

Why Otava and not MongoDB's ``signal-processing-algorithms`` (the E-Divisive it grew
from): that package pins numpy < 2 and Python < 3.12 and pulls gevent; devicelab
runs numpy 2. Otava's detector (``otava.analysis``) needs only numpy and scipy; its
own pins (numpy 2.2, scipy < 1.17) and its CLI's cloud clients are not needed, so
``scripts/setup.sh`` installs it with ``--no-deps`` (see pyproject's note).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.errors import InternalError
from controller.store import Store

#: Significance of a step (Otava's default; each night adds a look, so stay strict).
MAX_PVALUE = 0.001
#: Steps smaller than this fraction of the level are not reported.
MIN_MAGNITUDE = 0.01
#: Otava's sliding window, in nights: long enough to see a month's creep.
WINDOW_NIGHTS = 30


@dataclass(frozen=True)
class Step:
    """A change point: the series moved from ``before_us`` to ``after_us`` at ``index``."""

    index: int
    before_us: float
    after_us: float
    p_value: float

    @property
    def change_pct(self) -> float:
        return (self.after_us / self.before_us - 1) * 100 if self.before_us else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "before_us": self.before_us,
            "after_us": self.after_us,
            "change_pct": self.change_pct,
            "p_value": self.p_value,
        }


@dataclass
class DeviceHistory:
    """One entry's series on one device, with its steps."""

    entry: str
    device_serial: str
    device_name: str
    points: list[dict[str, Any]] = field(default_factory=list)  # stored results, oldest first
    steps: list[Step] = field(default_factory=list)

    @property
    def medians_us(self) -> list[float]:
        return [float(p.get("candidate_median_us") or 0.0) for p in self.points]

    def as_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "device_serial": self.device_serial,
            "device_name": self.device_name,
            "points": [_point(p) for p in self.points],
            "steps": [s.as_dict() | {"run_id": self.points[s.index]["run_id"]} for s in self.steps],
        }


def _point(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("run_id", "created_at", "verdict", "candidate_median_us", "baseline_median_us")
    return {k: result.get(k) for k in keys} | {
        "ratio": (result.get("comparison") or {}).get("ratio")
    }


def change_points(
    values: Sequence[float],
    *,
    max_pvalue: float = MAX_PVALUE,
    min_magnitude: float = MIN_MAGNITUDE,
    window: int = WINDOW_NIGHTS,
) -> list[Step]:
    """Step changes in a series (e.g. nightly medians), oldest value first.

    Example:
        >>> [s.index for s in change_points([100.0] * 20 + [110.0] * 20)]
        [20]
    """
    if len(values) < 4:
        return []
    try:
        from otava.analysis import compute_change_points
    except ImportError as exc:
        raise InternalError(
            "change-point detection needs apache-otava: "
            ".venv/bin/python -m pip install --no-deps apache-otava==0.8.0 (scripts/setup.sh)"
        ) from exc
    series = [float(v) for v in values]  # Otava slices lists; numpy arrays break its merge
    found, _weak = compute_change_points(
        series, window_len=window, max_pvalue=max_pvalue, min_magnitude=min_magnitude
    )
    return [
        Step(int(cp.index), float(cp.stats.mean_1), float(cp.stats.mean_2), float(cp.stats.pvalue))
        for cp in found
    ]


def entry_history(
    store: Store, entry: str, device_serial: str | None = None, limit: int = 365
) -> list[DeviceHistory]:
    """The entry's stored series, one per device, each with its change points."""
    histories: dict[str, DeviceHistory] = {}
    for result in store.regress_history(entry, device_serial, limit):
        serial = result["device_serial"]
        if serial not in histories:
            name = result.get("device_name", serial)
            histories[serial] = DeviceHistory(entry, serial, name)
        if result.get("candidate_median_us"):
            histories[serial].points.append(result)
    for history in histories.values():
        history.steps = change_points(history.medians_us)
    return list(histories.values())
