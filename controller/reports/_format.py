"""Formatting shared by the HTML report and its SVG charts.

Every string that comes from a result (model, layer, option names) is user
data and goes through ``esc`` before it lands in markup.
"""

from __future__ import annotations

import html
import math
from typing import Any

# Compute-unit colours: one hue per unit, the same in the bars, table and legend.
UNIT_COLORS = {"NPU": "#ea580c", "GPU": "#16a34a", "CPU": "#2563eb"}
OTHER_UNIT_COLOR = "#64748b"
UNIT_ORDER = ("NPU", "GPU", "CPU")


def esc(value: Any) -> str:
    """Escape text for HTML element content and quoted attributes alike.

    >>> esc('<b a="1">')
    '&lt;b a=&quot;1&quot;&gt;'
    """
    return html.escape(str(value), quote=True)


def unit_color(unit: str) -> str:
    """The colour of a compute unit (``'npu'`` and ``'NPU'`` are the same unit)."""
    return UNIT_COLORS.get(unit.upper(), OTHER_UNIT_COLOR)


def units_in_order(units: set[str]) -> list[str]:
    """Known units first (NPU, GPU, CPU), then the rest alphabetically."""
    known = [u for u in UNIT_ORDER if u in units]
    return known + sorted(units - set(known))


def fmt_us(us: float) -> str:
    """A duration in microseconds, in the unit that keeps it readable.

    >>> fmt_us(850), fmt_us(4327.5), fmt_us(2_500_000)
    ('850.0 µs', '4.33 ms', '2.50 s')
    """
    if abs(us) < 1000:
        return f"{us:.1f} µs"
    if abs(us) < 1_000_000:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1_000_000:.2f} s"


def fmt_bytes(num_bytes: float) -> str:
    """Bytes as MiB (the unit phones' memory is discussed in).

    >>> fmt_bytes(81661952)
    '77.9 MiB'
    """
    return f"{num_bytes / (1024 * 1024):.1f} MiB"


def fmt_num(value: float) -> str:
    """A number for a table cell: integers without decimals, others with two.

    >>> fmt_num(194678), fmt_num(0.5981)
    ('194,678', '0.60')
    """
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round axis ticks (steps of 1, 2 or 5 x 10^k) covering ``[low, high]``.

    >>> nice_ticks(0, 9.2)
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    """
    if high <= low:
        high = low + 1.0
    raw_step = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(float(round(value, 10)))
        value += step
    return ticks
