"""The regression run as one self-contained HTML page (inline CSS and SVG, no script, no URL).

Top: the suite's outcome and one row per entry x device. Then one panel each:
the verdict and why (notes, the confirmation), baseline vs candidate latency
distributions, the entry's trend over stored runs with its change points, the
per-layer diff, and the blocks with their device health (discarded ones say why).
"""

from __future__ import annotations

from datetime import UTC, datetime

from controller.regress import charts
from controller.regress.outcome import SuiteRun, TargetResult
from controller.regress.reports import summary_line
from controller.regress.stats import CONFIDENCE
from controller.reports._assets import CSS
from controller.reports._format import esc, fmt_us

_CSS = """
.verdict { display:inline-block; padding:1px 10px; border-radius:10px; color:#fff;
           font-weight:650; font-size:12.5px; text-transform:uppercase; }
header.top .verdict { font-size:14px; }
.legend .a { background:#64748b; } .legend .b { background:#ea580c; }
tr.discarded td { color:#94a3b8; text-decoration:line-through; }
svg .step { stroke:#e11d48; stroke-width:1.5; stroke-dasharray:5 4; }
"""


def render(run: SuiteRun) -> str:
    """The page as a string."""
    title = f"Regression run: {run.suite}"
    sections = [_overview(run)] + [_target(r, i) for i, r in enumerate(run.results)]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}{_CSS}</style></head><body>"
        f'<header class="top"><h1>{esc(title)}</h1><div class="meta">'
        f"{_badge(run.outcome if run.outcome != 'pass' else 'same', run.outcome)}"
        f"<span>run <b>{esc(run.run_id or '')}</b></span>"
        f"<span>started <b>{esc(_when(run.started_at))}</b></span>"
        f"<span>threshold <b>{run.policy.threshold_pct:g} %</b>, alpha <b>{run.policy.alpha:g}"
        f"</b> (suite-wide)</span></div></header><main>{''.join(sections)}</main></body></html>"
    )


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _badge(verdict: str, text: str | None = None) -> str:
    color = charts.VERDICT_COLORS.get(verdict, "#334155")
    return f'<span class="verdict" style="background:{color}">{esc(text or verdict)}</span>'


def _overview(run: SuiteRun) -> str:
    rows = []
    for i, r in enumerate(run.results):
        c = r.confirmation or r.comparison
        top = next((layer.name for layer in r.layers if layer.excess_us > 0), "")
        change = (
            f"{c.change_pct:+.1f} % [{(c.ci_low - 1) * 100:+.1f}, {(c.ci_high - 1) * 100:+.1f}]"
            if c
            else ""
        )
        rows.append(
            f'<tr><td><a href="#t{i}">{esc(r.entry)}</a></td><td>{esc(r.device_name)}</td>'
            f"<td>{_badge(r.verdict)}</td>"
            f'<td class="num">{esc(fmt_us(c.baseline_median_us)) if c else ""}</td>'
            f'<td class="num">{esc(fmt_us(c.candidate_median_us)) if c else ""}</td>'
            f'<td class="num">{esc(change)}</td>'
            f'<td class="num">{f"{c.p_value:.2g}" if c else ""}</td><td>{esc(top)}</td></tr>'
        )
    return (
        '<section class="panel"><h2>Entries</h2><p class="note">Change: median ratio − 1 with '
        f"its {CONFIDENCE:.0%} bootstrap interval; p: Mann-Whitney U, adjusted across the suite."
        '</p><table id="overview"><thead><tr><th>entry</th><th>device</th><th>verdict</th>'
        '<th class="num">baseline</th><th class="num">candidate</th><th class="num">change</th>'
        f'<th class="num">p</th><th>top layer</th></tr></thead><tbody>{"".join(rows)}'
        "</tbody></table></section>"
    )


def _target(result: TargetResult, index: int) -> str:
    notes = "".join(f'<p class="alert">{esc(n)}</p>' for n in result.notes)
    history = result.history
    points = history.points if history else []
    found = history.steps if history else []
    step_text = "".join(
        f'<p class="note">Step at run {s.index + 1} ({esc(points[s.index]["run_id"])}): '
        f"{esc(fmt_us(s.before_us))} → {esc(fmt_us(s.after_us))} ({s.change_pct:+.1f} %, "
        f"p={s.p_value:.2g})</p>"
        for s in found
    )
    return (
        f'<section class="panel target" id="t{index}" data-verdict="{esc(result.verdict)}">'
        f"<h2>{esc(result.label)} {_badge(result.verdict)}</h2>"
        f'<p class="note">{esc(summary_line(result))}</p>'
        f'<p class="note">Baseline: {esc(result.baseline)}</p>{notes}'
        '<div class="two-col"><div><h3>Latency per iteration</h3><div class="legend">'
        '<span><span class="swatch a"></span>baseline</span>'
        '<span><span class="swatch b"></span>candidate</span></div>'
        f"{charts.distributions(result.baseline_samples_us, result.candidate_samples_us)}</div>"
        f"<div><h3>History (candidate median per run)</h3>"
        f"{charts.trend(points, [s.index for s in found])}{step_text}</div></div>"
        f"{_layers(result)}{_blocks(result)}</section>"
    )


def _layers(result: TargetResult) -> str:
    if not result.layers:
        return ""
    rows = "".join(
        f'<tr><td class="name">{esc(layer.name)}</td><td>{esc(layer.baseline_name)}</td>'
        f"<td>{esc(layer.type)}</td><td>{esc(layer.matched_by)}</td>"
        f'<td class="num">{esc(fmt_us(layer.baseline_us))}</td>'
        f'<td class="num">{esc(fmt_us(layer.candidate_us))}</td>'
        f'<td class="num">{layer.delta_us:+.1f} µs</td><td class="num">{layer.excess_us:+.1f} µs'
        f'</td><td class="num">{layer.p_value:.2g}</td></tr>'
        for layer in result.layers
    )
    bars = charts.layer_deltas(
        [{"name": layer.name, "delta_us": layer.excess_us} for layer in result.layers]
    )
    return (
        "<h3>Per-layer change: excess time (the change of the layer's share of an iteration,"
        " in µs; a device that slows every layer alike moves no share)</h3>"
        f'{bars}<table class="layer-diff"><thead><tr><th>layer</th><th>baseline name</th>'
        "<th>type</th><th>matched by</th><th class=num>baseline</th><th class=num>candidate"
        "</th><th class=num>raw change</th><th class=num>excess</th><th class=num>p (share)"
        f"</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _blocks(result: TargetResult) -> str:
    rows = []
    for block in result.blocks:
        health = block.as_dict()["health"]
        temps = " / ".join(
            f"{health.get(w, {}).get('max_temperature_c', '–')}" for w in ("before", "after")
        )
        clocks = " / ".join(f"{health.get(w, {}).get('cpu_mhz', '–')}" for w in ("before", "after"))
        median = sorted(block.samples_us)[len(block.samples_us) // 2]
        css = ' class="discarded"' if block.discarded else ""
        rows.append(
            f"<tr{css}><td>{'re-run ' if block.session else ''}{esc(block.arm)}{block.index}</td>"
            f"<td>{esc(block.job_id)}</td>"
            f'<td class="num">{len(block.samples_us)}</td>'
            f'<td class="num">{esc(fmt_us(median))}</td><td class="num">{esc(temps)}</td>'
            f'<td class="num">{esc(clocks)}</td><td>{esc(block.discarded or "kept")}</td></tr>'
        )
    return (
        "<h3>Blocks (in the order run; health before / after)</h3>"
        '<table class="blocks"><thead><tr><th>block</th><th>job</th><th class=num>iterations'
        "</th><th class=num>median</th><th class=num>max °C</th><th class=num>CPU MHz</th>"
        f"<th>kept?</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
