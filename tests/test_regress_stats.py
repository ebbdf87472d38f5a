"""Verdicts, suite-wide control, per-layer blame and change points, on seeded samples
whose answer is known (the statistics are scipy's and Otava's; these check how we
use them: thresholds, directions, block structure, matching)."""

from __future__ import annotations

import numpy as np
import pytest

from contract.layers import LayerTiming
from controller.regress.blame import blame, layer_series, match_layers
from controller.regress.health import throttle_reason
from controller.regress.history import change_points
from controller.regress.stats import Comparison, Verdict, compare, decide, suite_adjusted

THRESHOLD, ALPHA = 0.03, 0.01


def _blocks(rng: np.random.Generator, median: float, blocks: int = 6, n: int = 30, block_sd=0.0):
    """Latency-like samples (a right-skewed tail), grouped in blocks that may shift."""
    out = []
    for _ in range(blocks):
        level = median * (1 + rng.normal(0, block_sd))
        out.append(list(level + rng.gamma(2.0, median * 0.005, n)))
    return out


def _verdict(a, b, seed: int = 7) -> Verdict:
    return compare(a, b, threshold=THRESHOLD, alpha=ALPHA, rng=np.random.default_rng(seed)).verdict


def test_a_ten_percent_slower_candidate_is_a_regression_and_faster_an_improvement() -> None:
    rng = np.random.default_rng(1)
    base = _blocks(rng, 1000)
    assert _verdict(base, _blocks(rng, 1100)) is Verdict.REGRESSION
    assert _verdict(base, _blocks(rng, 900)) is Verdict.IMPROVEMENT


def test_identical_artifacts_are_the_same_when_measured_enough() -> None:
    rng = np.random.default_rng(2)
    assert _verdict(_blocks(rng, 1000), _blocks(rng, 1000)) is Verdict.SAME


def test_a_real_but_small_change_is_not_a_regression() -> None:
    rng = np.random.default_rng(3)
    comparison = compare(
        _blocks(rng, 1000, blocks=12), _blocks(rng, 1010, blocks=12),
        threshold=THRESHOLD, alpha=ALPHA, rng=rng,
    )  # fmt: skip
    assert comparison.p_value < ALPHA  # significant: the shift is real ...
    assert comparison.verdict is Verdict.SAME  # ... and smaller than the lab cares about


def test_too_few_samples_is_unknown_not_a_guess() -> None:
    assert _verdict([1000, 1001, 999], [1500, 1490, 1510]) is Verdict.UNKNOWN


def test_block_to_block_drift_widens_the_interval_instead_of_crying_wolf() -> None:
    """Blocks whose level moves by ~4 % (a busy device): pooled iterations would call a
    3 % difference of block levels certain; resampling whole blocks does not."""
    rng = np.random.default_rng(4)
    a = _blocks(rng, 1000, blocks=3, block_sd=0.04)
    b = _blocks(rng, 1000, blocks=3, block_sd=0.04)
    pooled = compare([x for blk in a for x in blk], [x for blk in b for x in blk],
                     threshold=THRESHOLD, alpha=ALPHA, rng=rng)  # fmt: skip
    by_block = compare(a, b, threshold=THRESHOLD, alpha=ALPHA, rng=rng)
    assert by_block.ci_high - by_block.ci_low > 2 * (pooled.ci_high - pooled.ci_low)
    assert by_block.verdict is not Verdict.REGRESSION


def test_the_interval_holds_the_true_ratio() -> None:
    rng = np.random.default_rng(5)
    comparison = compare(_blocks(rng, 1000), _blocks(rng, 1050), threshold=THRESHOLD,
                         alpha=ALPHA, rng=rng)  # fmt: skip
    assert comparison.ci_low < 1.05 < comparison.ci_high


def _found(p_value: float, ratio: float = 1.0) -> Comparison:
    return Comparison(1000.0, 1000.0 * ratio, ratio, ratio - 0.02, ratio + 0.02, p_value, 1.0,
                      60, 60, THRESHOLD, ALPHA, Verdict.UNKNOWN)  # fmt: skip


def test_suite_wide_adjustment_drops_a_lone_borderline_finding_among_many() -> None:
    """20 comparisons a night: one at p=0.004 is what chance gives one night in ~12."""
    nulls = [_found(p) for p in np.linspace(0.05, 0.95, 18)]
    borderline, strong = _found(0.004, ratio=1.06), _found(1e-6, ratio=1.08)
    assert decide(borderline) is Verdict.REGRESSION  # alone, it would fail the night
    adjusted = suite_adjusted([*nulls, borderline, strong])
    assert adjusted[-2].p_value == pytest.approx(0.004 * 20 / 2)
    assert adjusted[-2].verdict is Verdict.UNKNOWN
    assert adjusted[-1].verdict is Verdict.REGRESSION


def _layers(times: dict[str, tuple[str, float]], rng, n=9, jitter=0.5) -> list[list[LayerTiming]]:
    return [
        [
            LayerTiming(name, kind, "CPU", t + rng.normal(0, jitter))
            for name, (kind, t) in times.items()
        ]
        for _ in range(n)
    ]


def test_blame_names_the_slowed_layer_first_with_a_small_p_value() -> None:
    rng = np.random.default_rng(8)
    base = {"conv0": ("Conv", 100.0), "conv1": ("Conv", 20.0), "fc": ("Gemm", 5.0)}
    slow = {**base, "conv1": ("Conv", 60.0)}
    changes = blame(_layers(base, rng), _layers(slow, rng))
    assert changes[0].name == "conv1" and changes[0].matched_by == "name"
    assert changes[0].delta_us == pytest.approx(40, abs=2)
    assert changes[0].p_value < 0.01
    assert all(c.excess_us < 0 for c in changes[1:])  # they lost share, added no time


def test_blame_sees_through_a_device_that_ran_everything_slower() -> None:
    """The candidate's blocks ran on a busier device (every layer 40 % slower) and conv1
    was widened: conv0 gained more raw time, but conv1 is the one that changed."""
    rng = np.random.default_rng(13)
    base = {"conv0": ("Conv", 100.0), "conv1": ("Conv", 20.0), "fc": ("Gemm", 5.0)}
    busy = {name: (kind, t * 1.4) for name, (kind, t) in base.items()}
    busy["conv1"] = ("Conv", 30.0 * 1.4)
    changes = blame(_layers(base, rng), _layers(busy, rng))
    assert max(changes, key=lambda c: c.delta_us).name == "conv0"  # raw time misleads
    assert changes[0].name == "conv1" and changes[0].p_value < 0.01


def test_renamed_layers_are_matched_by_type_and_position() -> None:
    rng = np.random.default_rng(9)
    base = {"conv0": ("Conv", 100.0), "r1_nchwc": ("Conv", 20.0), "fc": ("Gemm", 5.0)}
    renamed = {"conv0": ("Conv", 100.0), "conv1": ("Conv", 50.0), "fc": ("Gemm", 5.0),
               "extra": ("Relu", 3.0)}  # fmt: skip
    pairs = match_layers(layer_series(_layers(base, rng)), layer_series(_layers(renamed, rng)))
    how = {(a.name if a else None, b.name if b else None): h for a, b, h in pairs}
    assert how[("r1_nchwc", "conv1")] == "type+position"
    assert how[(None, "extra")] == "added"
    top = blame(_layers(base, rng), _layers(renamed, rng))[0]
    assert (top.name, top.baseline_name) == ("conv1", "r1_nchwc")


def test_a_step_in_sixty_nights_is_found_at_its_night() -> None:
    rng = np.random.default_rng(10)
    nights = list(1000 + rng.normal(0, 8, 60))
    nights[37:] = [v * 1.05 for v in nights[37:]]
    steps = change_points(nights)
    assert len(steps) == 1 and abs(steps[0].index - 37) <= 1
    assert steps[0].change_pct == pytest.approx(5, abs=1.5)


def test_a_flat_noisy_history_has_no_step() -> None:
    rng = np.random.default_rng(11)
    assert change_points(list(1000 + rng.normal(0, 8, 60))) == []


def test_a_slow_creep_no_single_night_flags_is_found() -> None:
    """0.3 % a night for 20 nights: below any night's 3 % threshold, 6 % in all."""
    rng = np.random.default_rng(12)
    creep = [1000 * (1 + 0.003 * max(0, i - 30)) for i in range(60)]
    nights = [v + rng.normal(0, 3) for v in creep]
    assert max(b / a for a, b in zip(nights, nights[1:], strict=False)) < 1.03
    steps = change_points(nights)
    assert steps and 30 <= steps[0].index <= 50


def test_a_throttled_block_is_discarded_with_the_reason() -> None:
    cool = {"before": {"max_temperature_c": 38.0, "thermal_status": 0}, "after": {}}
    hot = {"before": {"max_temperature_c": 38.0}, "after": {"max_temperature_c": 51.5}}
    throttled = {"before": {"thermal_status": 3}, "after": {}}
    assert throttle_reason(cool, 45.0) is None
    assert "51.5 °C after" in str(throttle_reason(hot, 45.0))
    assert "thermal status 3" in str(throttle_reason(throttled, 45.0))
