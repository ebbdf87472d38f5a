"""A profile result as one self-contained HTML page (inline CSS, inline SVG, no URLs).

    >>> from pathlib import Path
    >>> write_html_report(job.download_profile(), Path("report.html"))  # doctest: +SKIP
    PosixPath('report.html')

The page has: a header (job, device, model, runtime), summary cards (loads,
latency statistics, iterations, memory), the layers (time per compute unit, the
top layers as bars, every layer in a sortable table), the latency of the timed
loop (histogram and per-iteration timeline), device health before and after,
and the options as requested and as applied. Every string taken from the
result is escaped: model and layer names are user data.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from contract.layers import LayerTiming
from controller.events import AppliedSettings
from controller.profile_result import LatencyStats, Load, ProfileResult
from controller.reports import svg
from controller.reports._assets import CSS, JS
from controller.reports._details import health_section, options_section
from controller.reports._format import (
    esc,
    fmt_bytes,
    fmt_num,
    fmt_us,
    unit_color,
    units_in_order,
)

# Keys a caller may use to put the model's name in the devicelab extras.
_MODEL_KEYS = ("model_name", "model", "name")


def write_html_report(
    result: ProfileResult | dict[str, Any],
    path: Path,
    *,
    title: str | None = None,
    top_layers: int = 25,
) -> Path:
    """Write the report for ``result`` (a ``download_profile()`` dict) to ``path``.

    Args:
        result: the profile result, or its dict (``download_profile()``); ``devicelab``
            extras are optional (a cloud service result renders too, with fewer
            sections filled).
        path: the ``.html`` file to write; parent directories are created.
        title: the page title; default names the model and device.
        top_layers: how many of the slowest layers the bar chart shows (the
            table always lists every layer).

    Returns:
        ``path``.

    Example:
        >>> write_html_report(result, Path("out/report.html"), top_layers=10)  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, title=title, top_layers=top_layers), encoding="utf-8")
    return path


def render_html(
    result: ProfileResult | dict[str, Any], *, title: str | None = None, top_layers: int = 25
) -> str:
    """The report page as a string (what ``write_html_report`` writes)."""
    profile = ProfileResult.of(result)
    extra = profile.context
    page_title = title or _default_title(extra)
    latencies = [float(v) for v in profile.inference_times_us]
    sections = [
        _partial_notice(profile, len(latencies)),
        _simulated_notice(extra),
        _warning_notices(profile.warnings),
        _summary_section(profile),
        _layers_section(profile, top_layers),
        _latency_section(latencies),
        health_section(extra.get("device_health")),
        options_section(extra.get("options"), profile.applied),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(page_title)}</title><style>{CSS}</style></head><body>"
        f"{_header(page_title, extra, profile.applied)}<main>{''.join(sections)}</main>"
        "<footer>devicelab profile report · one self-contained file</footer>"
        f"<script>{JS}</script></body></html>\n"
    )


def _model_name(extra: dict[str, Any]) -> str:
    return next((str(extra[key]) for key in _MODEL_KEYS if extra.get(key)), "")


def _default_title(extra: dict[str, Any]) -> str:
    model, device = _model_name(extra), extra.get("device")
    if model and device:
        return f"{model} on {device}"
    return model or (f"Profile on {device}" if device else "Profile report")


def _header(title: str, extra: dict[str, Any], applied: AppliedSettings | None) -> str:
    applied = applied or AppliedSettings()
    runtime = f"{applied.runtime} {applied.runtime_version}".strip()
    fields = [
        ("Job", extra.get("job_id")),
        ("Device", extra.get("device")),
        ("Model", _model_name(extra)),
        ("Runtime", runtime),
        ("Accelerators", ", ".join(applied.accelerators)),
    ]
    meta = "".join(f"<span>{label} <b>{esc(value)}</b></span>" for label, value in fields if value)
    return f'<header class="top"><h1>{esc(title)}</h1><div class="meta">{meta}</div></header>'


def _partial_notice(profile: ProfileResult, iterations: int) -> str:
    """A failed or unfinished job's page says so first: its numbers stop where it did."""
    partial = profile.partial
    if partial is None:
        return ""
    state = partial.state.lower().replace("_", " ")
    return (
        f'<p class="partial"><b>Partial result</b>: the job is {esc(state)} '
        f"({esc(partial.reason)}). This is what it measured before that: "
        f"{_plural(iterations, 'timed iteration')}.</p>"
    )


def _simulated_notice(extra: dict[str, Any]) -> str:
    """A simulated device's page says so before any number: they are not a phone's."""
    if not extra.get("simulated"):
        return ""
    simulation = extra.get("simulation") or {}
    twin = simulation.get("stands_in_for") or {}
    name = twin.get("name") if isinstance(twin, dict) else twin
    standing_in = f", standing in for {esc(name)}" if name else ""
    return (
        f'<p class="notice"><b>Simulated {esc(simulation.get("soc", "Snapdragon"))}</b>'
        f"{standing_in}: {esc(simulation.get('note', ''))}.</p>"
    )


def _warning_notices(warnings: list[str]) -> str:
    """Result-level warnings (the NPU ran nothing, stalls) as loud as in the CLI."""
    return "".join(f'<p class="notice"><b>Warning</b>: {esc(w)}</p>' for w in warnings)


def _card(label: str, value: str, sub: str = "", primary: bool = False) -> str:
    css = "card primary" if primary else "card"
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<div class="{css}"><div class="label">{esc(label)}</div>'
        f'<div class="value">{esc(value)}</div>{sub_html}</div>'
    )


def _summary_section(profile: ProfileResult) -> str:
    # Stats from the agent if present; otherwise computed from the raw list
    # (a cloud service result carries only all_inference_times).
    cards = [
        _inference_card(profile.latency_stats),
        _load_card("First load", profile.first_load),
        _load_card("Warm load", profile.warm_load),
        _iterations_card(profile),
        _memory_card(profile),
        _layers_card(profile),
    ]
    return (
        '<section class="panel" id="summary"><h2>Summary</h2>'
        f'<p class="note">Times are measured on the device; latency comes from the timed '
        f'loop with profiling off.</p><div class="cards">{"".join(cards)}</div></section>'
    )


def _inference_card(stats: LatencyStats | None) -> str:
    if stats is None:
        return _card("Inference (median)", "–", "no timed iterations", primary=True)
    sub = (
        f"p90 {esc(fmt_us(stats.p90))} · mean {esc(fmt_us(stats.mean))}<br>"
        f"min {esc(fmt_us(stats.min))} · max {esc(fmt_us(stats.max))}"
    )
    return _card("Inference (median)", fmt_us(stats.median), sub, primary=True)


def _load_card(label: str, load: Load | None) -> str:
    if load is None or not load.time_us:
        return _card(label, "–", "not measured")
    peak, increase = load.peak_memory_bytes, load.memory_increase_bytes
    return _card(
        label, fmt_us(load.time_us), f"peak {esc(fmt_bytes(peak))} · +{esc(fmt_bytes(increase))}"
    )


def _iterations_card(profile: ProfileResult) -> str:
    parts = []
    if profile.stop_reason:
        parts.append(f"stopped by {esc(profile.stop_reason.replace('_', ' '))}")
    if profile.loop_time_s:
        parts.append(f"loop {profile.loop_time_s:.2f} s")
    return _card("Timed iterations", f"{profile.iterations:,}", " · ".join(parts))


def _memory_card(profile: ProfileResult) -> str:
    peak = profile.inference_peak_memory_bytes
    increase = profile.inference_memory_increase_bytes
    if not peak:
        return _card("Peak memory (inference)", "–", "not measured")
    return _card(
        "Peak memory (inference)", fmt_bytes(peak), f"+{esc(fmt_bytes(increase))} during the loop"
    )


def _layers_card(profile: ProfileResult) -> str:
    layers = profile.layers
    counts: dict[str, int] = defaultdict(int)
    for entry in layers:
        counts[entry.compute_unit] += 1
    sub = " · ".join(f"{esc(u)} {counts[u]}" for u in units_in_order(set(counts)))
    coverage = profile.layer_coverage.get("median")
    if coverage is not None:
        sub += f"<br>cover {100 * float(coverage):.0f}% of a profiled run"
    return _card("Layers", f"{len(layers):,}", sub or "no per-layer timings")


def _time_by_unit(layers: list[LayerTiming]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for entry in layers:
        totals[entry.compute_unit] += entry.execution_time_us
    return {unit: totals[unit] for unit in units_in_order(set(totals))}


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _legend(layers: list[LayerTiming], time_by_unit: dict[str, float]) -> str:
    total = sum(time_by_unit.values()) or 1.0
    counts: dict[str, int] = defaultdict(int)
    for entry in layers:
        counts[entry.compute_unit] += 1
    items = [
        f'<span><span class="swatch" style="background:{unit_color(unit)}"></span>'
        f"<b>{esc(unit)}</b> {_plural(counts[unit], 'layer')} · {esc(fmt_us(time_us))} "
        f"({100 * time_us / total:.1f}%)</span>"
        for unit, time_us in time_by_unit.items()
    ]
    return f'<div class="legend">{"".join(items)}</div>'


def _layers_note(profile: ProfileResult) -> str:
    runs = profile.layer_profile_iterations
    text = "Per-layer times as the runtime reported them"
    if runs:
        text = (
            f"Per-layer times are the {esc(profile.layer_aggregate)} over "
            f"{_plural(runs, 'profiled run')},"
            " run apart from the timed loop because recording them costs time"
        )
    coverage = profile.layer_coverage.get("median")
    if coverage is not None:
        text += f"; layers account for {100 * float(coverage):.0f}% of a profiled run's wall time"
    return f'<p class="note">{text}.</p>'


def _layers_section(profile: ProfileResult, top: int) -> str:
    head = '<section class="panel" id="layers"><h2>Layers</h2>'
    layers = profile.layers
    if not layers:
        return head + '<p class="empty">No per-layer timings in this result.</p></section>'
    by_time = sorted(layers, key=lambda e: e.execution_time_us, reverse=True)
    total = sum(e.execution_time_us for e in layers)
    time_by_unit = _time_by_unit(layers)
    shown = by_time[: max(0, top)]
    return (
        f"{head}{_layers_note(profile)}{_legend(layers, time_by_unit)}"
        f"{svg.unit_share_bar(time_by_unit)}"
        f"<h3>Top {len(shown)} of {len(layers)} layers by time</h3>"
        f"{svg.layer_bars(shown, total)}"
        f'<h3>All layers</h3><p class="note">Click a column to sort; # is execution order.'
        f'</p><div class="scroll">{_layer_table(layers, total)}</div></section>'
    )


def _layer_table(layers: list[LayerTiming], total: float) -> str:
    head = (
        '<table class="sortable" id="layer-table"><thead><tr>'
        '<th class="num" data-type="num">#</th><th>Name</th><th>Type</th><th>Unit</th>'
        '<th class="num" data-type="num" aria-sort="descending">Time (µs)</th>'
        '<th class="num" data-type="num">Share</th><th class="num" data-type="num">Cycles</th>'
        "</tr></thead><tbody>"
    )
    order = sorted(enumerate(layers), key=lambda p: p[1].execution_time_us, reverse=True)
    rows = "".join(_layer_row(index, entry, total) for index, entry in order)
    return f"{head}{rows}</tbody></table>"


def _layer_row(index: int, entry: LayerTiming, total: float) -> str:
    time_us = entry.execution_time_us
    share = 100 * time_us / total if total else 0.0
    unit = entry.compute_unit
    cycles = entry.execution_cycles
    color = unit_color(unit)
    # Missing cycles sort below zero so layers without them group at one end.
    cycles_v, cycles_text = (cycles, fmt_num(cycles)) if cycles is not None else (-1, "")
    return (
        f'<tr><td class="num" data-v="{index}">{index}</td>'
        f'<td class="name" data-v="{esc(entry.name)}">{esc(entry.name)}</td>'
        f'<td data-v="{esc(entry.type)}">{esc(entry.type)}</td>'
        f'<td data-v="{esc(unit)}"><span class="unit-tag" style="background:{color}">'
        f"{esc(unit)}</span></td>"
        f'<td class="num" data-v="{time_us}">{time_us:,.1f}</td>'
        f'<td class="num" data-v="{share:.4f}"><div class="share">{share:.1f}%'
        f'<div class="track"><div class="fill" style="width:{min(share, 100):.1f}%;'
        f'background:{color}"></div></div></div></td>'
        f'<td class="num" data-v="{cycles_v}">{cycles_text}</td></tr>'
    )


def _latency_section(latencies: list[float]) -> str:
    head = '<section class="panel" id="latency"><h2>Inference latency</h2>'
    if not latencies:
        return head + '<p class="empty">No timed iterations in this result.</p></section>'
    note = (
        f'<p class="note">{_plural(len(latencies), "timed iteration")}, profiler off. The timeline '
        "shows drift (thermal throttling, background load) that the histogram hides.</p>"
    )
    return (
        f'{head}{note}<div class="two-col"><div><h3>Histogram</h3>'
        f"{svg.latency_histogram(latencies)}</div><div><h3>Per iteration</h3>"
        f"{svg.latency_timeline(latencies)}</div></div></section>"
    )
