"""Verdicts from per-iteration samples: regression, improvement, same or unknown.

Two arms of latencies (baseline A, candidate B, microseconds), each a list of
blocks of per-iteration samples, are compared the way Chromium's Pinpoint
compares repeats, with an effect size a lab can act on.

**The unit is the block.** Iterations inside one block share that block's load,
memory layout and device state, so they are not independent: on this project's
2-core host under load, the medians of identical blocks were up to 50 % apart,
and a test over pooled iterations called such A/A pairs "different" almost every
time (19 % false regressions after confirmation in ``scripts/bench_regress.py``'s
first design). So each block is summarized by the median of its iterations, and
with ``MIN_BLOCKS`` or more blocks per arm those block medians are the samples;
with fewer (a single stored block), the iterations are.

- significance: Mann-Whitney U (a shift) and Kolmogorov-Smirnov (any change of
  shape), both from scipy; the decision uses the Mann-Whitney p-value (KS is
  reported). With 6 + 6 blocks the smallest two-sided p is 0.002, with 3 + 3 it
  is 0.1: a regression at alpha 0.01 needs at least 6 pairs;
- effect: the ratio of medians B/A with a bootstrap confidence interval
  (``scipy.stats.bootstrap``, percentile method: BCa's jackknife is unstable for
  medians of integer microseconds, where many resamples tie);
- *regression* needs significance, a ratio above ``1 + threshold`` and a CI above 1;
  *improvement* mirrors it; *same* means the whole CI lies inside
  ``(1 - threshold, 1 + threshold)``: whatever changed is smaller than the lab cares
  about; anything else is *unknown*: run more blocks (``controller/regress/session.py``).

Across a suite, ``suite_adjusted`` applies Benjamini-Hochberg to every comparison's
p-value (``scipy.stats.false_discovery_control``), so a night of many entries x
devices does not cry wolf just because it asked many questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from scipy import stats

#: Confidence level of the median-ratio interval.
CONFIDENCE = 0.95
#: Bootstrap resamples: 2,000 keeps the 95 % bounds within ~0.1 % of a 20,000-resample
#: run on 100-sample arms here, at ~20 ms per comparison.
BOOTSTRAP_RESAMPLES = 2000
#: Fewer samples per arm than this cannot give a verdict (Mann-Whitney's smallest
#: two-sided p with 5 + 5 samples is 0.008).
MIN_SAMPLES = 5
#: From this many blocks per arm on, blocks (their medians) are the samples.
MIN_BLOCKS = 3


class Verdict(StrEnum):
    """What one comparison says; ``unknown`` means "measure more"."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    SAME = "same"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Comparison:
    """Baseline vs candidate: medians, the ratio with its CI, p-values and the verdict."""

    baseline_median_us: float
    candidate_median_us: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float  # Mann-Whitney U, two-sided (suite-adjusted once ``suite_adjusted`` ran)
    ks_p_value: float
    baseline_n: int
    candidate_n: int
    threshold: float
    alpha: float
    verdict: Verdict
    unit: str = "iteration"  # what the samples were: "block" medians or "iteration"s

    @property
    def change_pct(self) -> float:
        """The median's change in percent (+ is slower)."""
        return (self.ratio - 1.0) * 100.0

    def describe(self) -> str:
        """One line: ``+5.2 % (95 % CI +4.1 .. +6.3 %), p=0.0003, 60 vs 60 samples``."""
        low, high = (self.ci_low - 1) * 100, (self.ci_high - 1) * 100
        return (
            f"{self.change_pct:+.1f} % ({CONFIDENCE:.0%} CI {low:+.1f} .. {high:+.1f} %), "
            f"p={self.p_value:.2g}, {self.baseline_n} vs {self.candidate_n} {self.unit}s"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "baseline_median_us": self.baseline_median_us,
            "candidate_median_us": self.candidate_median_us,
            "ratio": self.ratio,
            "ci": [self.ci_low, self.ci_high],
            "confidence": CONFIDENCE,
            "p_value": self.p_value,
            "ks_p_value": self.ks_p_value,
            "baseline_n": self.baseline_n,
            "candidate_n": self.candidate_n,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "verdict": self.verdict.value,
            "unit": self.unit,
        }


Blocks = Sequence[Sequence[float]]


def as_blocks(samples: Sequence[float] | Blocks) -> list[np.ndarray]:
    """Samples as blocks: a flat sequence is one block; empty blocks are dropped."""
    if len(samples) and not isinstance(samples[0], Sequence | np.ndarray):
        return [np.asarray(samples, dtype=float)]
    return [np.asarray(b, dtype=float) for b in samples if len(b)]  # type: ignore[arg-type]


def median_ratio_ci(
    baseline: np.ndarray, candidate: np.ndarray, rng: np.random.Generator
) -> tuple[float, float]:
    """Bootstrap CI of median(candidate) / median(baseline), each arm resampled alone."""

    def ratio(b: np.ndarray, a: np.ndarray, axis: int) -> np.ndarray:
        return np.median(b, axis=axis) / np.median(a, axis=axis)  # type: ignore[no-any-return]

    result = stats.bootstrap(
        (candidate, baseline), ratio, vectorized=True, n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=CONFIDENCE, method="percentile", rng=rng,
    )  # fmt: skip
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def units(blocks: list[np.ndarray], other: list[np.ndarray]) -> tuple[np.ndarray, str]:
    """The samples an arm is tested on: its block medians when both arms have
    ``MIN_BLOCKS`` blocks, else its pooled iterations."""
    if len(blocks) >= MIN_BLOCKS and len(other) >= MIN_BLOCKS:
        return np.array([np.median(b) for b in blocks]), "block"
    return (np.concatenate(blocks) if blocks else np.zeros(0)), "iteration"


def compare(
    baseline: Sequence[float] | Blocks,
    candidate: Sequence[float] | Blocks,
    *,
    threshold: float,
    alpha: float,
    rng: np.random.Generator | None = None,
) -> Comparison:
    """Compare per-iteration latencies (same unit, > 0), flat or grouped in blocks.

    Args:
        baseline: the baseline's samples (A): one flat sequence, or one per block.
        candidate: the candidate's samples (B), likewise.
        threshold: the smallest change that matters, as a fraction (0.03 = 3 %).
        alpha: the significance level a regression's p-value must be below.
        rng: the bootstrap's random generator (seed it for a reproducible CI).

    Example:
        >>> rng = np.random.default_rng(1)
        >>> a, b = rng.normal(1000, 10, 60), rng.normal(1100, 10, 60)
        >>> compare(a, b, threshold=0.03, alpha=0.01, rng=rng).verdict.value
        'regression'
    """
    blocks_a, blocks_b = as_blocks(baseline), as_blocks(candidate)
    a, unit = units(blocks_a, blocks_b)
    b, _ = units(blocks_b, blocks_a)
    median_a = float(np.median(a)) if a.size else 0.0
    median_b = float(np.median(b)) if b.size else 0.0
    enough = MIN_BLOCKS if unit == "block" else MIN_SAMPLES
    if a.size < enough or b.size < enough or median_a <= 0:
        return Comparison(
            median_a, median_b, median_b / median_a if median_a > 0 else 1.0, 0.0, float("inf"),
            1.0, 1.0, int(a.size), int(b.size), threshold, alpha, Verdict.UNKNOWN, unit,
        )  # fmt: skip
    p_value = float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue)
    ks_p = float(stats.ks_2samp(b, a).pvalue)
    low, high = median_ratio_ci(a, b, rng or np.random.default_rng())
    comparison = Comparison(
        median_a, median_b, median_b / median_a, low, high, p_value, ks_p,
        int(a.size), int(b.size), threshold, alpha, Verdict.UNKNOWN, unit,
    )  # fmt: skip
    return replace(comparison, verdict=decide(comparison))


def decide(c: Comparison) -> Verdict:
    """The verdict from a comparison's p-value, ratio and CI (see the module doc)."""
    significant = c.p_value < c.alpha
    if significant and c.ratio > 1 + c.threshold and c.ci_low > 1:
        return Verdict.REGRESSION
    if significant and c.ratio < 1 - c.threshold and c.ci_high < 1:
        return Verdict.IMPROVEMENT
    if 1 - c.threshold < c.ci_low and c.ci_high < 1 + c.threshold:
        return Verdict.SAME
    return Verdict.UNKNOWN


def suite_adjusted(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Every comparison with its p-value Benjamini-Hochberg adjusted over the suite,
    and its verdict decided again (a regression may become *unknown*)."""
    if len(comparisons) < 2:
        return list(comparisons)
    adjusted = stats.false_discovery_control([c.p_value for c in comparisons], method="bh")
    out = []
    for c, p in zip(comparisons, adjusted, strict=True):
        moved = replace(c, p_value=float(p))
        out.append(replace(moved, verdict=decide(moved)))
    return out
