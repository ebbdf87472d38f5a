"""Inline SVG charts of the regression page: distributions, trends, per-layer changes.

Drawn in Python, no chart library and no script: the page stays one file that
opens anywhere. Every string from a suite (entry, layer names) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from controller.reports._format import esc, fmt_us, nice_ticks

BASELINE_COLOR, CANDIDATE_COLOR = "#64748b", "#ea580c"
VERDICT_COLORS = {
    "regression": "#dc2626",
    "improvement": "#16a34a",
    "same": "#2563eb",
    "unknown": "#ca8a04",
    "new": "#64748b",
    "error": "#7c3aed",
}
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 14, 40


def _open(width: int, height: int, label: str, css: str) -> str:
    return (
        f'<svg class="chart {css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(label)}"><title>{esc(label)}</title>'
    )


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    return start + ((value - low) / (high - low) if high > low else 0.5) * (end - start)


def distributions(
    baseline_us: Sequence[float], candidate_us: Sequence[float], width: int = 560, height: int = 240
) -> str:
    """Baseline and candidate latencies as two histograms on shared bins, medians marked
    (the slowest and fastest 1 % of iterations are left out of the picture)."""
    values = sorted([*baseline_us, *candidate_us])
    if not values:
        return '<p class="empty">No samples.</p>'
    # The 1st..99th percentile: one 40 ms hiccup must not squeeze 600 us runs into a bin.
    low, high = values[len(values) // 100], values[-1 - len(values) // 100]
    baseline_us = [v for v in baseline_us if low <= v <= high]
    candidate_us = [v for v in candidate_us if low <= v <= high]
    pad = 0.0 if high > low else max(abs(low) * 0.05, 1.0)
    ticks = nice_ticks(low - pad, high + pad, 6)
    x_low, x_high = ticks[0], ticks[-1]
    count = max(4, min(40, math.ceil(math.sqrt(len(values)))))
    step = (x_high - x_low) / count
    hists = [_histogram(s, x_low, step, count) for s in (baseline_us, candidate_us)]
    top = max(max(h) for h in hists) or 1
    x0, x1, y0, y1 = _LEFT, width - _RIGHT, height - _BOTTOM, _TOP
    parts = [_open(width, height, "Baseline vs candidate latency", "distribution")]
    for hist, color, css in zip(hists, (BASELINE_COLOR, CANDIDATE_COLOR), ("a", "b"), strict=True):
        for i, n in enumerate(hist):
            if n:
                left = _scale(x_low + i * step, x_low, x_high, x0, x1)
                right = _scale(x_low + (i + 1) * step, x_low, x_high, x0, x1)
                y = _scale(n, 0, top, y0, y1)
                parts.append(
                    f'<rect class="dist-bin {css}" x="{left:.1f}" y="{y:.1f}" '
                    f'width="{max(right - left - 1, 1):.1f}" height="{y0 - y:.1f}" '
                    f'fill="{color}" fill-opacity="0.45"/>'
                )
    for samples, color in ((baseline_us, BASELINE_COLOR), (candidate_us, CANDIDATE_COLOR)):
        if samples:
            mid = sorted(samples)[len(samples) // 2]
            x = _scale(mid, x_low, x_high, x0, x1)
            parts.append(
                f'<line class="median" x1="{x:.1f}" y1="{y1}" x2="{x:.1f}" y2="{y0}" '
                f'stroke="{color}" stroke-width="2" stroke-dasharray="5 3"/>'
            )
    parts.append(_x_axis(ticks, x0, x1, y0, height, "latency per iteration"))
    parts.append("</svg>")
    return "".join(parts)


def _histogram(samples: Sequence[float], low: float, step: float, count: int) -> list[int]:
    bins = [0] * count
    for value in samples:
        bins[min(count - 1, max(0, int((value - low) / step)))] += 1
    return bins


def _x_axis(ticks: list[float], x0: float, x1: float, y0: float, height: int, title: str) -> str:
    parts = [f'<line class="axis" x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}"/>']
    for tick in ticks:
        x = _scale(tick, ticks[0], ticks[-1], x0, x1)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{y0 + 16}" text-anchor="middle">'
            f"{esc(fmt_us(tick))}</text>"
        )
    parts.append(
        f'<text class="axis-title" x="{(x0 + x1) / 2:.1f}" y="{height - 4}" '
        f'text-anchor="middle">{esc(title)}</text>'
    )
    return "".join(parts)


def trend(
    points: Sequence[dict[str, Any]], steps: Sequence[int], width: int = 560, height: int = 240
) -> str:
    """The candidate's median per stored run, coloured by verdict; change points as
    dashed lines at the first run of the new level."""
    values = [float(p.get("candidate_median_us") or 0.0) for p in points]
    if not values:
        return '<p class="empty">No history yet.</p>'
    low, high = min(values), max(values)
    pad = 0.0 if high > low else max(abs(low) * 0.05, 1.0)
    ticks = nice_ticks(low - pad, high + pad, 4)
    x0, x1, y0, y1 = _LEFT, width - _RIGHT, height - _BOTTOM, _TOP
    n = len(values)

    def xy(i: int, v: float) -> tuple[float, float]:
        return _scale(i, 0, max(n - 1, 1), x0, x1), _scale(v, ticks[0], ticks[-1], y0, y1)

    parts = [_open(width, height, "Median per run (history)", "trend")]
    for tick in ticks:
        y = _scale(tick, ticks[0], ticks[-1], y0, y1)
        parts.append(
            f'<line class="grid" x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{x0 - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(fmt_us(tick))}</text>"
        )
    for index in steps:
        x = xy(index, 0)[0]
        parts.append(f'<line class="marker step" x1="{x:.1f}" y1="{y1}" x2="{x:.1f}" y2="{y0}"/>')
    coords = [xy(i, v) for i, v in enumerate(values)]
    parts.append(
        '<polyline class="series" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + '"/>'
    )
    for (x, y), point in zip(coords, points, strict=True):
        verdict = str(point.get("verdict", ""))
        parts.append(
            f'<circle class="run-point" data-verdict="{esc(verdict)}" cx="{x:.1f}" cy="{y:.1f}" '
            f'r="3.5" fill="{VERDICT_COLORS.get(verdict, "#334155")}">'
            f"<title>{esc(point.get('run_id', ''))}: {esc(verdict)}</title></circle>"
        )
    parts.append(
        f'<text class="axis-title" x="{(x0 + x1) / 2:.1f}" y="{height - 4}" '
        f'text-anchor="middle">runs, oldest first ({n})</text></svg>'
    )
    return "".join(parts)


def layer_deltas(layers: Sequence[dict[str, Any]], width: int = 1000) -> str:
    """Diverging bars: each layer's change in microseconds (right: slower)."""
    if not layers:
        return '<p class="empty">No per-layer times.</p>'
    row, label_w = 24, 330
    height = row * len(layers) + 8
    largest = max(abs(float(layer["delta_us"])) for layer in layers) or 1.0
    mid = label_w + (width - label_w) / 2
    half = (width - label_w) / 2 - 110
    parts = [_open(width, height, "Per-layer change", "layer-deltas")]
    parts.append(f'<line class="axis" x1="{mid:.1f}" y1="0" x2="{mid:.1f}" y2="{height}"/>')
    for i, layer in enumerate(layers):
        delta = float(layer["delta_us"])
        span = half * abs(delta) / largest
        x = mid if delta >= 0 else mid - span
        y = 4 + i * row
        color = VERDICT_COLORS["regression" if delta > 0 else "improvement"]
        text_x = mid + span + 8 if delta >= 0 else mid + 8
        parts.append(
            f'<g class="delta-bar"><text class="bar-label" x="{label_w - 10}" y="{y + 16}" '
            f'text-anchor="end">{esc(str(layer["name"])[:44])}</text>'
            f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{max(span, 1.5):.1f}" '
            f'height="{row - 6}" rx="3" fill="{color}"/>'
            f'<text class="bar-value" x="{text_x:.1f}" y="{y + 16}">{delta:+.1f} µs</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
