"""Inline SVG charts for the HTML report, drawn in Python (no chart library, no JS).

Each function returns one ``<svg>`` element sized by its ``viewBox`` so the page
scales it to the column width. Text inside is escaped; colours come from
``UNIT_COLORS`` so the charts, the table and the legend agree.

    >>> svg = latency_histogram([4100, 4300, 4200, 9000])
    >>> svg.startswith("<svg") and svg.count('class="hist-bin"') >= 1
    True
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from contract.layers import LayerTiming
from controller.reports._format import esc, fmt_us, nice_ticks, unit_color

# Plot margins in viewBox units: room for tick labels left and below.
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 14, 40
_BAR_ROW = 24  # one layer bar per row
_LABEL_WIDTH = 330  # room for a layer name before its bar starts
_VALUE_WIDTH = 150  # room after the longest bar for "975.0 µs  22.9%"
_MAX_LABEL_CHARS = 44


@dataclass(frozen=True)
class _Plot:
    """A plot area inside an SVG of ``width`` x ``height`` viewBox units."""

    width: float
    height: float

    @property
    def x0(self) -> float:
        return _LEFT

    @property
    def x1(self) -> float:
        return self.width - _RIGHT

    @property
    def y0(self) -> float:
        return self.height - _BOTTOM

    @property
    def y1(self) -> float:
        return _TOP


def _scale(value: float, domain: tuple[float, float], span: tuple[float, float]) -> float:
    low, high = domain
    fraction = (value - low) / (high - low) if high != low else 0.0
    return span[0] + fraction * (span[1] - span[0])


def _svg_open(width: float, height: float, label: str, css_class: str) -> str:
    # No xmlns: inline in HTML the parser puts <svg> in its namespace, and the page
    # stays free of any URL, even a namespace one.
    return (
        f'<svg class="{css_class}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>"
    )


def _truncate(text: str, limit: int = _MAX_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def layer_bars(layers: Sequence[LayerTiming], total_us: float, width: int = 1000) -> str:
    """Horizontal bars, one per layer (already sorted and cut to the top N).

    Args:
        layers: the layers to draw, longest first.
        total_us: the sum over all layers, for the share shown after each bar.
        width: viewBox width; the page scales the SVG to its column.
    """
    height = _BAR_ROW * len(layers) + 8
    longest = max((e.execution_time_us for e in layers), default=0.0) or 1.0
    bar_span = width - _LABEL_WIDTH - _VALUE_WIDTH
    parts = [_svg_open(width, height, "Layers by execution time", "chart layer-bars")]
    for row, entry in enumerate(layers):
        parts.append(_layer_bar(entry, row, bar_span * entry.execution_time_us / longest, total_us))
    parts.append("</svg>")
    return "".join(parts)


def _layer_bar(entry: LayerTiming, row: int, bar_width: float, total_us: float) -> str:
    time_us = entry.execution_time_us
    unit = entry.compute_unit
    y = 4 + row * _BAR_ROW
    share = 100 * time_us / total_us if total_us else 0.0
    tooltip = f"{entry.name} ({entry.type}, {unit}): {fmt_us(time_us)}"
    return (
        f'<g class="layer-bar"><title>{esc(tooltip)}</title>'
        f'<text class="bar-label" x="{_LABEL_WIDTH - 10}" y="{y + 16}" text-anchor="end">'
        f"{esc(_truncate(entry.name))}</text>"
        f'<rect class="bar" data-unit="{esc(unit)}" x="{_LABEL_WIDTH}" y="{y + 3}" '
        f'width="{max(bar_width, 1.5):.1f}" height="{_BAR_ROW - 6}" rx="3" '
        f'fill="{unit_color(unit)}"/>'
        f'<text class="bar-value" x="{_LABEL_WIDTH + bar_width + 8:.1f}" y="{y + 16}">'
        f'{esc(fmt_us(time_us))}  <tspan class="muted">{share:.1f}%</tspan></text></g>'
    )


def unit_share_bar(time_by_unit: dict[str, float], width: int = 1000) -> str:
    """One stacked bar: each compute unit's share of the summed layer time."""
    total = sum(time_by_unit.values()) or 1.0
    parts = [_svg_open(width, 34, "Layer time by compute unit", "chart unit-share")]
    x = 0.0
    for unit, time_us in time_by_unit.items():
        span = width * time_us / total
        parts.append(
            f'<rect class="unit-seg" data-unit="{esc(unit)}" x="{x:.1f}" y="2" '
            f'width="{span:.1f}" height="30" fill="{unit_color(unit)}">'
            f"<title>{esc(unit)}: {esc(fmt_us(time_us))}</title></rect>"
        )
        if span > 90:  # a label only where it fits inside its segment
            parts.append(
                f'<text class="seg-label" x="{x + 10:.1f}" y="22">{esc(unit)} '
                f"{100 * time_us / total:.1f}%</text>"
            )
        x += span
    parts.append("</svg>")
    return "".join(parts)


def _x_axis(plot: _Plot, ticks: list[float], domain: tuple[float, float], fmt: str) -> str:
    parts = [f'<line class="axis" x1="{plot.x0}" y1="{plot.y0}" x2="{plot.x1}" y2="{plot.y0}"/>']
    for tick in ticks:
        x = _scale(tick, domain, (plot.x0, plot.x1))
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{plot.y0 + 16}" text-anchor="middle">'
            f"{fmt.format(tick)}</text>"
        )
    return "".join(parts)


def _y_axis(plot: _Plot, ticks: list[float], domain: tuple[float, float], fmt: str) -> str:
    parts = []
    for tick in ticks:
        y = _scale(tick, domain, (plot.y0, plot.y1))
        parts.append(
            f'<line class="grid" x1="{plot.x0}" y1="{y:.1f}" x2="{plot.x1}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{plot.x0 - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{fmt.format(tick)}</text>"
        )
    return "".join(parts)


def _axis_title(plot: _Plot, text: str) -> str:
    return (
        f'<text class="axis-title" x="{(plot.x0 + plot.x1) / 2:.1f}" y="{plot.height - 4}" '
        f'text-anchor="middle">{esc(text)}</text>'
    )


def _count_ticks(max_count: int) -> list[float]:
    # Counts are whole numbers: drop the half steps nice_ticks picks for tiny maxima.
    return [t for t in nice_ticks(0, max_count, 4) if float(t).is_integer()]


def _bins(values_ms: list[float]) -> list[int]:
    # sqrt(n) bins, capped: enough shape for 50 runs, no comb for 10,000.
    count = max(1, min(30, math.ceil(math.sqrt(len(values_ms)))))
    low, high = min(values_ms), max(values_ms)
    width = (high - low) / count or 1.0
    bins = [0] * count
    for value in values_ms:
        bins[min(count - 1, int((value - low) / width))] += 1
    return bins


def latency_histogram(latencies_us: Sequence[float], width: int = 560, height: int = 250) -> str:
    """How the timed iterations' latencies spread, with median and p90 marked."""
    plot = _Plot(width, height)
    values = [v / 1000 for v in latencies_us]
    low, high = min(values), max(values)
    # All values equal: widen the axis around them so the one bin sits mid-plot.
    pad = 0.0 if high > low else max(abs(low) * 0.05, 0.01)
    x_ticks = nice_ticks(low - pad, high + pad, 6)
    x_domain = (x_ticks[0], x_ticks[-1])
    bins = _bins(values)
    y_ticks = _count_ticks(max(bins) + 1)  # headroom: the median label sits above the bins
    y_domain = (0.0, y_ticks[-1])
    parts = [
        _svg_open(width, height, "Latency histogram", "chart histogram"),
        _y_axis(plot, y_ticks, y_domain, "{:.0f}"),
    ]
    bin_width = (high - low) / len(bins) if high > low else 0.0
    for index, count in enumerate(bins):
        start = low + index * bin_width
        parts.append(_hist_bar(plot, (start, start + bin_width), count, x_domain, y_domain))
    parts.append(_x_axis(plot, x_ticks, x_domain, "{:g}"))
    parts.append(_marker(plot, statistics.median(values), x_domain, "median"))
    parts.append(_axis_title(plot, "inference time (ms)"))
    parts.append("</svg>")
    return "".join(parts)


def _hist_bar(
    plot: _Plot,
    edges: tuple[float, float],
    count: int,
    x_domain: tuple[float, float],
    y_domain: tuple[float, float],
) -> str:
    left = _scale(edges[0], x_domain, (plot.x0, plot.x1))
    right = _scale(edges[1], x_domain, (plot.x0, plot.x1))
    top = _scale(count, y_domain, (plot.y0, plot.y1))
    # A single-valued run has zero-width bins: draw a visible 6-unit column.
    bar_width = right - left - 1
    if bar_width < 6.0:  # equal latencies give zero-width bins: a visible column, centred
        left, bar_width = (left + right) / 2 - 3.0, 6.0
    title = f"{edges[0]:.3f}–{edges[1]:.3f} ms: {count} iteration(s)"
    return (
        f'<rect class="hist-bin" x="{left:.1f}" y="{top:.1f}" width="{bar_width:.1f}" '
        f'height="{plot.y0 - top:.1f}"><title>{esc(title)}</title></rect>'
    )


def _marker(plot: _Plot, value_ms: float, domain: tuple[float, float], label: str) -> str:
    x = _scale(value_ms, domain, (plot.x0, plot.x1))
    return (
        f'<line class="marker" x1="{x:.1f}" y1="{plot.y1}" x2="{x:.1f}" y2="{plot.y0}"/>'
        f'<text class="marker-label" x="{x + 4:.1f}" y="{plot.y1 + 10}">'
        f"{esc(label)} {value_ms:.2f} ms</text>"
    )


def latency_timeline(latencies_us: Sequence[float], width: int = 560, height: int = 250) -> str:
    """Each timed iteration's latency in run order: drift, throttling and outliers show here."""
    plot = _Plot(width, height)
    values = [v / 1000 for v in latencies_us]
    y_ticks = nice_ticks(0, max(values), 4)
    y_domain = (0.0, y_ticks[-1])
    count = len(values)
    # One iteration still gets an axis, with its point in the middle.
    x_domain = (1.0, float(count)) if count > 1 else (0.0, 2.0)
    x_ticks = [t for t in nice_ticks(1, max(count, 2), 5) if 1 <= t <= count]
    points = [
        (
            _scale(i + 1, x_domain, (plot.x0, plot.x1)),
            _scale(values[i], y_domain, (plot.y0, plot.y1)),
        )
        for i in _timeline_indices(values)
    ]
    parts = [
        _svg_open(width, height, "Latency per iteration", "chart timeline"),
        _y_axis(plot, y_ticks, y_domain, "{:g}"),
        _x_axis(plot, x_ticks or [1.0], x_domain, "{:.0f}"),
        _median_line(plot, statistics.median(values), y_domain),
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    parts.append(f'<polyline class="series" points="{path}"/>')
    if count <= 300:  # beyond that the dots merge into the line
        parts.extend(_point(x, y, i + 1, values[i]) for i, (x, y) in enumerate(points))
    parts.append(_axis_title(plot, "iteration (latency in ms)"))
    parts.append("</svg>")
    return "".join(parts)


#: Above this many iterations the line is drawn through each bucket's lowest and highest
#: one (a min/max envelope: every outlier still shows): at ~12 bytes a point, 365k
#: iterations made a 4.4 MB line for a plot some 500 pixels wide.
TIMELINE_POINTS_MAX = 2_000


def _timeline_indices(values: Sequence[float]) -> list[int]:
    """The iterations the timeline's line passes through, in run order."""
    if len(values) <= TIMELINE_POINTS_MAX:
        return list(range(len(values)))
    size = math.ceil(len(values) / (TIMELINE_POINTS_MAX // 2))
    indices: list[int] = []
    for start in range(0, len(values), size):
        bucket = range(start, min(start + size, len(values)))
        low = min(bucket, key=values.__getitem__)
        high = max(bucket, key=values.__getitem__)
        indices.extend(sorted({low, high}))
    return indices


def _median_line(plot: _Plot, median_ms: float, domain: tuple[float, float]) -> str:
    y = _scale(median_ms, domain, (plot.y0, plot.y1))
    return (
        f'<line class="marker" x1="{plot.x0}" y1="{y:.1f}" x2="{plot.x1}" y2="{y:.1f}"/>'
        f'<text class="marker-label" x="{plot.x1 - 4}" y="{y - 5:.1f}" text-anchor="end">'
        f"median {median_ms:.2f} ms</text>"
    )


def _point(x: float, y: float, iteration: int, value_ms: float) -> str:
    return (
        f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="2.6">'
        f"<title>iteration {iteration}: {value_ms:.3f} ms</title></circle>"
    )
