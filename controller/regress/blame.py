"""Per-layer blame: which layers' time changed, by how much, and how sure we are.

The layers of two model versions are matched first by name; layers whose names
changed (a re-export renames nodes, a runtime fuses differently) are then matched
by type and position: the k-th unmatched ``Conv`` of the baseline with the k-th
unmatched ``Conv`` of the candidate, in execution order. What is left is a layer
that was added or removed.

Layers are judged by their *share* of each profiled iteration's layer time, not by
their raw time: a busy or throttled device slows every layer alike, which moves
raw times by far more than one widened layer does (on this 2-core host under load,
whole blocks ran 40 % apart), while shares stay put. Each pair is compared on its
per-iteration shares (Mann-Whitney U from scipy, Benjamini-Hochberg adjusted over
the model's layers) and ranked by its *excess*: the change of its share, in
microseconds of the candidate's median iteration. Raw medians are reported too.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from scipy import stats

from contract.layers import LayerTiming

#: Layers listed per comparison (report, JSON, JUnit message shows the first 3).
TOP_LAYERS = 10
_MIN_LAYER_SAMPLES = 3


@dataclass(frozen=True)
class LayerSeries:
    """One layer's per-iteration times (and cycles) in one arm, pooled over blocks."""

    name: str
    type: str
    compute_unit: str
    position: int
    times_us: tuple[float, ...]
    cycles: tuple[int, ...] = ()
    shares: tuple[float, ...] = ()  # of each iteration's summed layer time


@dataclass(frozen=True)
class LayerChange:
    """A matched (or added/removed) layer: medians, change and its p-value."""

    name: str
    baseline_name: str
    type: str
    compute_unit: str
    matched_by: str  # "name", "type+position", "added", "removed"
    baseline_us: float
    candidate_us: float
    p_value: float
    share: float  # of the summed change of all layers (+ share: adds time)
    baseline_cycles: float | None = None
    candidate_cycles: float | None = None
    excess_us: float = 0.0  # its share's change, in us of the candidate's iteration

    @property
    def delta_us(self) -> float:
        return self.candidate_us - self.baseline_us

    @property
    def ratio(self) -> float:
        return self.candidate_us / self.baseline_us if self.baseline_us > 0 else float("inf")

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "baseline_name": self.baseline_name,
            "type": self.type,
            "compute_unit": self.compute_unit,
            "matched_by": self.matched_by,
            "baseline_us": self.baseline_us,
            "candidate_us": self.candidate_us,
            "delta_us": self.delta_us,
            "ratio": None if self.baseline_us <= 0 else self.ratio,
            "p_value": self.p_value,
            "share": self.share,
            "excess_us": self.excess_us,
            "baseline_cycles": self.baseline_cycles,
            "candidate_cycles": self.candidate_cycles,
        }

    def describe(self) -> str:
        """``conv4 (Conv) +120.0 us (+42 %), p=0.001``."""
        pct = f" ({(self.ratio - 1) * 100:+.0f} %)" if self.baseline_us > 0 else " (new)"
        return f"{self.name} ({self.type}) {self.delta_us:+.1f} us{pct}, p={self.p_value:.2g}"


def layer_series(iterations: Sequence[Sequence[LayerTiming]]) -> list[LayerSeries]:
    """Pool profiled iterations into one series per layer name, in execution order."""
    times: dict[str, list[float]] = defaultdict(list)
    shares: dict[str, list[float]] = defaultdict(list)
    cycles: dict[str, list[int]] = defaultdict(list)
    first: dict[str, LayerTiming] = {}
    for layers in iterations:
        total = sum(layer.execution_time_us for layer in layers)
        for layer in layers:
            first.setdefault(layer.name, layer)
            times[layer.name].append(layer.execution_time_us)
            shares[layer.name].append(layer.execution_time_us / total if total > 0 else 0.0)
            if layer.execution_cycles is not None:
                cycles[layer.name].append(layer.execution_cycles)
    return [
        LayerSeries(
            n, f.type, f.compute_unit, i, tuple(times[n]), tuple(cycles[n]), tuple(shares[n])
        )
        for i, (n, f) in enumerate(first.items())
    ]


def match_layers(
    baseline: Sequence[LayerSeries], candidate: Sequence[LayerSeries]
) -> list[tuple[LayerSeries | None, LayerSeries | None, str]]:
    """Pairs (baseline, candidate, how): by name, then by type and position."""
    by_name = {s.name: s for s in baseline}
    pairs: list[tuple[LayerSeries | None, LayerSeries | None, str]] = []
    left_b = [s for s in candidate if s.name not in by_name]
    for s in candidate:
        if s.name in by_name:
            pairs.append((by_name[s.name], s, "name"))
    names_b = {s.name for s in candidate}
    left_a = [s for s in baseline if s.name not in names_b]
    queues: dict[str, list[LayerSeries]] = defaultdict(list)
    for s in left_a:
        queues[s.type].append(s)
    for s in left_b:
        queue = queues.get(s.type)
        if queue:
            pairs.append((queue.pop(0), s, "type+position"))
        else:
            pairs.append((None, s, "added"))
    pairs += [(s, None, "removed") for queue in queues.values() for s in queue]
    return pairs


def blame(
    baseline: Sequence[Sequence[LayerTiming]],
    candidate: Sequence[Sequence[LayerTiming]],
    top: int = TOP_LAYERS,
) -> list[LayerChange]:
    """The layers that changed most, slowest-added first (both arms' profiled iterations)."""
    pairs = match_layers(layer_series(baseline), layer_series(candidate))
    if not pairs:
        return []
    totals = [sum(t.execution_time_us for t in layers) for layers in candidate]
    iteration_us = statistics.median(totals) if totals else 0.0
    changes = [_change(a, b, how, iteration_us) for a, b, how in pairs]
    adjusted = _adjusted([c.p_value for c in changes])
    total = sum(c.delta_us for c in changes)
    changes = [
        _with(c, p_value=p, share=(c.delta_us / total) if total else 0.0)
        for c, p in zip(changes, adjusted, strict=True)
    ]
    changes.sort(key=lambda c: c.excess_us, reverse=True)
    return changes[:top]


def _change(
    a: LayerSeries | None, b: LayerSeries | None, how: str, iteration_us: float
) -> LayerChange:
    ref = b or a
    assert ref is not None
    times_a = a.times_us if a else ()
    times_b = b.times_us if b else ()
    shares_a = a.shares if a else ()
    shares_b = b.shares if b else ()
    share_a = statistics.median(shares_a) if shares_a else 0.0
    share_b = statistics.median(shares_b) if shares_b else 0.0
    return LayerChange(
        name=ref.name,
        baseline_name=a.name if a else "",
        type=ref.type,
        compute_unit=ref.compute_unit,
        matched_by=how,
        baseline_us=statistics.median(times_a) if times_a else 0.0,
        candidate_us=statistics.median(times_b) if times_b else 0.0,
        p_value=_p_value(shares_a, shares_b),
        share=0.0,
        baseline_cycles=statistics.median(a.cycles) if a and a.cycles else None,
        candidate_cycles=statistics.median(b.cycles) if b and b.cycles else None,
        excess_us=(share_b - share_a) * iteration_us,
    )


def _p_value(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) < _MIN_LAYER_SAMPLES or len(b) < _MIN_LAYER_SAMPLES:
        return 0.0 if (a or b) and not (a and b) else 1.0  # added/removed: certain
    if len(set(a) | set(b)) == 1:
        return 1.0  # all equal (integer microseconds of a tiny layer)
    return float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue)


def _adjusted(p_values: list[float]) -> list[float]:
    if len(p_values) < 2:
        return p_values
    return [float(p) for p in stats.false_discovery_control(p_values, method="bh")]


def _with(change: LayerChange, *, p_value: float, share: float) -> LayerChange:
    return replace(change, p_value=p_value, share=share)
