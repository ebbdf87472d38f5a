"""Verdicts from per-iteration samples: regression, improvement, same or unknown.

Two samples of latencies (baseline A, candidate B, microseconds) are compared the
way Chromium's Pinpoint compares repeats, with an effect size a lab can act on:

- significance: Mann-Whitney U (a shift of the distribution) and Kolmogorov-Smirnov
  (any change of shape), both from scipy; the decision uses the Mann-Whitney p-value
  (latency regressions are shifts; KS is reported, it flags bimodal changes);
- effect: the ratio of medians B/A with a bootstrap confidence interval
  (``scipy.stats.bootstrap``, resampling whole blocks when there are several, see
  ``median_ratio_ci``; percentile method: BCa's jackknife is unstable for a median
  of integer microseconds, where many resamples tie);
- *regression* needs significance, a ratio above ``1 + threshold`` and a CI above 1;
  *improvement* mirrors it; *same* means the whole CI lies inside
  ``(1 - threshold, 1 + threshold)``: whatever changed is smaller than the lab cares
  about; anything else is *unknown*: run more blocks (``controller/regress/ab.py``).

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

    @property
    def change_pct(self) -> float:
        """The median's change in percent (+ is slower)."""
        return (self.ratio - 1.0) * 100.0

    def describe(self) -> str:
        """One line: ``+5.2 % (95 % CI +4.1 .. +6.3 %), p=0.0003, 60 vs 60 samples``."""
        low, high = (self.ci_low - 1) * 100, (self.ci_high - 1) * 100
        return (
            f"{self.change_pct:+.1f} % ({CONFIDENCE:.0%} CI {low:+.1f} .. {high:+.1f} %), "
            f"p={self.p_value:.2g}, {self.baseline_n} vs {self.candidate_n} samples"
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
        }


Blocks = Sequence[Sequence[float]]


def as_blocks(samples: Sequence[float] | Blocks) -> list[np.ndarray]:
    """Samples as blocks: a flat sequence is one block; empty blocks are dropped."""
    if len(samples) and not isinstance(samples[0], Sequence | np.ndarray):
        return [np.asarray(samples, dtype=float)]
    return [np.asarray(b, dtype=float) for b in samples if len(b)]  # type: ignore[arg-type]


def median_ratio_ci(
    baseline: list[np.ndarray],
    candidate: list[np.ndarray],
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Bootstrap CI of median(candidate) / median(baseline), each arm resampled alone.

    With two or more blocks per arm the bootstrap resamples whole blocks (a cluster
    bootstrap): iterations of one block share that block's load and device state, so
    they are not independent, and an iteration-level interval would be too narrow.
    An A/A run of the tiny sample model here had blocks whose medians differed by 3 %.
    (Resampling a session's A/B pairs jointly was tried on recorded blocks of this
    host under load: it changed neither false alarms nor detection, because here a
    block's state flips within seconds; see scripts/bench_regress.py.)
    """
    if len(baseline) >= 2 and len(candidate) >= 2:
        data = (np.arange(len(candidate)), np.arange(len(baseline)))
        if len({len(b) for b in (*baseline, *candidate)}) == 1:  # equal blocks: vectorized
            rows_b, rows_a = np.stack(candidate), np.stack(baseline)

            def stacked(b_index: np.ndarray, a_index: np.ndarray, axis: int) -> np.ndarray:
                b = rows_b[np.moveaxis(b_index, axis, -1)]  # (..., blocks, iterations)
                a = rows_a[np.moveaxis(a_index, axis, -1)]
                flat_b = b.reshape(*b.shape[:-2], -1)
                flat_a = a.reshape(*a.shape[:-2], -1)
                return np.median(flat_b, axis=-1) / np.median(flat_a, axis=-1)  # type: ignore[no-any-return]

            result = stats.bootstrap(
                data, stacked, vectorized=True, n_resamples=BOOTSTRAP_RESAMPLES,
                confidence_level=CONFIDENCE, method="percentile", rng=rng,
            )  # fmt: skip
            return float(result.confidence_interval.low), float(result.confidence_interval.high)

        def pooled(b_index: np.ndarray, a_index: np.ndarray) -> float:
            b = np.concatenate([candidate[int(i)] for i in b_index])
            a = np.concatenate([baseline[int(i)] for i in a_index])
            return float(np.median(b) / np.median(a))

        result = stats.bootstrap(
            data, pooled, vectorized=False, n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=CONFIDENCE, method="percentile", rng=rng,
        )  # fmt: skip
        return float(result.confidence_interval.low), float(result.confidence_interval.high)

    def ratio(b: np.ndarray, a: np.ndarray, axis: int) -> np.ndarray:
        return np.median(b, axis=axis) / np.median(a, axis=axis)  # type: ignore[no-any-return]

    result = stats.bootstrap(
        (np.concatenate(candidate), np.concatenate(baseline)), ratio, vectorized=True,
        n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=CONFIDENCE, method="percentile",
        rng=rng,
    )  # fmt: skip
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


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
    a = np.concatenate(blocks_a) if blocks_a else np.zeros(0)
    b = np.concatenate(blocks_b) if blocks_b else np.zeros(0)
    median_a = float(np.median(a)) if a.size else 0.0
    median_b = float(np.median(b)) if b.size else 0.0
    if a.size < MIN_SAMPLES or b.size < MIN_SAMPLES or median_a <= 0:
        return Comparison(
            median_a, median_b, median_b / median_a if median_a > 0 else 1.0, 0.0, float("inf"),
            1.0, 1.0, int(a.size), int(b.size), threshold, alpha, Verdict.UNKNOWN,
        )  # fmt: skip
    p_value = float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue)
    ks_p = float(stats.ks_2samp(b, a).pvalue)
    low, high = median_ratio_ci(blocks_a, blocks_b, rng or np.random.default_rng())
    comparison = Comparison(
        median_a, median_b, median_b / median_a, low, high, p_value, ks_p,
        int(a.size), int(b.size), threshold, alpha, Verdict.UNKNOWN,
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
