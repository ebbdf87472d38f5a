"""The report's reference sections: device health before/after, options requested/applied.

Both show whatever the result holds and tolerate what it does not: health is
best effort on the device (see ``controller.transports.health``), and a cloud
service result has no options record at all.

    >>> "Battery level" in health_section({"before": {"battery_level": 80}, "after": {}})
    True
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from controller.events import AppliedSettings
from controller.reports._format import esc

# Health readings in display order, with their labels and units.
_HEALTH_FIELDS = {
    "battery_level": ("Battery level", "%"),
    "battery_temperature_c": ("Battery temperature", " °C"),
    "max_temperature_c": ("Hottest thermal zone", " °C"),
    "thermal_status": ("Thermal status", ""),
    "taken_at": ("Taken at (UTC)", ""),
    "cooldown_wait_s": ("Waited to cool down", " s"),
}
# Android's PowerManager.THERMAL_STATUS_* values.
_THERMAL_STATUS = ["none", "light", "moderate", "severe", "critical", "emergency", "shutdown"]
_NESTED_HEALTH = {"cpu_governors", "cpu_freq_khz", "thermal_zones_c"}


def _natural_key(text: str) -> list[Any]:
    # cpu2 before cpu10
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _health_value(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "taken_at" and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%H:%M:%S")
    if key == "thermal_status" and isinstance(value, int) and 0 <= value < len(_THERMAL_STATUS):
        return f"{value} ({_THERMAL_STATUS[value]})"
    unit = _HEALTH_FIELDS.get(key, ("", ""))[1]
    if isinstance(value, float) and key.endswith("_c"):
        return f"{value:.1f}{unit}"  # temperatures: always one decimal, so columns align
    if isinstance(value, float):
        return f"{value:.3g}{unit}"  # a wait of 0.001 s must not read as 0.0
    return f"{value}{unit}"


def _delta(key: str, before: Any, after: Any) -> str:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (before, after))
    if not numeric or before == after:
        return ""
    change = after - before
    if key == "taken_at":
        return f"+{change:.1f} s"
    text = f"{change:+d}" if isinstance(change, int) else f"{change:+.1f}"
    # Warmer after the job is the one change worth a colour: it explains slow runs.
    css = "up" if key.endswith("_c") and change > 0 else ""
    unit = _HEALTH_FIELDS.get(key, ("", ""))[1]
    return f'<span class="{css}">{text}{esc(unit)}</span>'


def _scalar_rows(before: dict[str, Any], after: dict[str, Any]) -> str:
    keys = [k for k in _HEALTH_FIELDS if k in before or k in after]
    keys += sorted(k for k in {*before, *after} - set(_HEALTH_FIELDS) - _NESTED_HEALTH - {"error"})
    rows = []
    for key in keys:
        label = _HEALTH_FIELDS.get(key, (key.replace("_", " "), ""))[0]
        old, new = before.get(key), after.get(key)
        rows.append(
            f'<tr><td>{esc(label)}</td><td class="num">{esc(_health_value(key, old))}</td>'
            f'<td class="num">{esc(_health_value(key, new))}</td>'
            f'<td class="num">{_delta(key, old, new)}</td></tr>'
        )
    return "".join(rows)


def _cpu_table(before: dict[str, Any], after: dict[str, Any]) -> str:
    snaps = (before, after)
    freqs = [snap.get("cpu_freq_khz") or {} for snap in snaps]
    governors = [snap.get("cpu_governors") or {} for snap in snaps]
    names = set().union(*freqs, *governors)
    if not names:
        return ""
    # A host (psutil) reports clocks but no governors: no empty columns for it.
    with_governors = any(governors)
    head = '<th>CPU</th><th class="num">MHz before</th><th class="num">MHz after</th>'
    if with_governors:
        head += "<th>Governor before</th><th>Governor after</th>"
    rows = []
    for cpu in sorted(names, key=_natural_key):
        cells = "".join(f'<td class="num">{esc(_mhz(f.get(cpu)))}</td>' for f in freqs)
        if with_governors:
            cells += "".join(f"<td>{esc(g.get(cpu, ''))}</td>" for g in governors)
        rows.append(f"<tr><td>{esc(cpu)}</td>{cells}</tr>")
    return (
        f'<h3>CPU clocks</h3><table id="cpu-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _mhz(khz: Any) -> str:
    return f"{int(khz) / 1000:,.0f}" if isinstance(khz, int | float) else ""


def _zones_table(before: dict[str, Any], after: dict[str, Any]) -> str:
    zones_before = before.get("thermal_zones_c") or {}
    zones_after = after.get("thermal_zones_c") or {}
    names = sorted({*zones_before, *zones_after}, key=_natural_key)
    if not names:
        return ""
    rows = "".join(
        f'<tr><td>{esc(z)}</td><td class="num">{esc(_health_value("zone_c", zones_before.get(z)))}'
        f'</td><td class="num">{esc(_health_value("zone_c", zones_after.get(z)))}</td>'
        f'<td class="num">{_delta("zone_c", zones_before.get(z), zones_after.get(z))}</td></tr>'
        for z in names
    )
    # Phones expose dozens of zones: folded, the hottest one is in the table above.
    return (
        f"<details><summary>Thermal zones ({len(names)}, °C)</summary>"
        '<table class="compact"><thead><tr>'
        '<th>Zone</th><th class="num">Before</th><th class="num">After</th>'
        f'<th class="num">Change</th></tr></thead><tbody>{rows}</tbody></table></details>'
    )


def health_section(health: dict[str, Any] | None) -> str:
    """Device health before and after the job (``devicelab.device_health``)."""
    head = '<section class="panel" id="health"><h2>Device health</h2>'
    if not health or not (health.get("before") or health.get("after")):
        return head + '<p class="empty">No device health was recorded for this job.</p></section>'
    before, after = health.get("before") or {}, health.get("after") or {}
    errors = "".join(
        f'<div class="alert">{esc(when)}: {esc(snap["error"])}</div>'
        for when, snap in (("before", before), ("after", after))
        if snap.get("error")
    )
    scalars = _scalar_rows(before, after)
    table = (
        '<h3>Readings</h3><table id="health-table"><thead><tr><th>Reading</th>'
        '<th class="num">Before</th><th class="num">After</th><th class="num">Change</th>'
        "</tr></thead>"
        f"<tbody>{scalars}</tbody></table>"
        if scalars
        else ""
    )
    # Readings beside CPU clocks: two short tables side by side read as one comparison.
    return (
        f'{head}{errors}<div class="two-col"><div>{table}</div>'
        f"<div>{_cpu_table(before, after)}</div></div>{_zones_table(before, after)}</section>"
    )


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _kv_table(rows: list[tuple[str, Any]], table_id: str) -> str:
    body = "".join(
        f"<tr><td><code>{esc(key)}</code></td><td>{esc(_plain(value))}</td></tr>"
        for key, value in rows
    )
    return (
        f'<table id="{table_id}"><thead><tr><th>Option</th><th>Value</th></tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _requested(options: dict[str, Any]) -> str:
    effective = options.get("effective") or {}
    given = set(options.get("given") or [])
    fields = [
        ("Requested", options.get("requested")),
        ("Canonical", options.get("canonical")),
        ("Job", options.get("job")),
        ("Target runtime", options.get("target_runtime")),
    ]
    terms = "".join(
        f"<dt>{label}</dt><dd><code>{esc(value)}</code></dd>"
        for label, value in fields
        if value not in (None, "")
    )
    set_rows = [(k, v) for k, v in _flatten(effective) if k.split(".")[0] in given]
    parts = [f'<h3>As requested</h3><dl class="kv">{terms}</dl>']
    if set_rows:
        parts.append(_kv_table(set_rows, "options-given"))
    if effective:
        parts.append(
            f"<details><summary>All effective options, defaults included "
            f"({len(_flatten(effective))})</summary>"
            f"{_kv_table(_flatten(effective), 'options-effective')}</details>"
        )
    return "".join(parts)


def _applied(applied: AppliedSettings) -> str:
    runtime = f"{applied.runtime} {applied.runtime_version}".strip()
    chips = "".join(f'<span class="chip">{esc(a)}</span>' for a in applied.accelerators)
    alerts = "".join(
        f'<div class="alert">{label}: {esc(text)}</div>'
        for label, texts in (("Fallback", applied.fallbacks), ("Warning", applied.warnings))
        for text in texts
    )
    terms = f"<dt>Runtime</dt><dd>{esc(runtime or '?')}</dd>"
    terms += f"<dt>Accelerators</dt><dd>{chips or '–'}</dd>"
    parts = [f'<h3>As applied on the device</h3>{alerts}<dl class="kv">{terms}</dl>']
    settings = applied.settings
    if settings:
        parts.append(_kv_table(sorted(settings.items()), "applied-settings"))
    parts.append(_tensor_table(applied))
    return "".join(parts)


def _tensor_table(applied: AppliedSettings) -> str:
    rows = "".join(
        f"<tr><td>{kind}</td><td><code>{esc(spec.name)}</code></td>"
        f"<td>{esc(' x '.join(str(d) for d in spec.shape))}</td>"
        f"<td>{esc(spec.dtype)}</td></tr>"
        for kind, specs in (("input", applied.inputs), ("output", applied.outputs))
        for spec in specs
    )
    if not rows:
        return ""
    return (
        "<h3>Tensors</h3><table><thead><tr><th>Kind</th><th>Name</th><th>Shape</th>"
        f"<th>Type</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def options_section(options: dict[str, Any] | None, applied: AppliedSettings | None) -> str:
    """The options as the user wrote them and what the agent actually applied."""
    head = '<section class="panel" id="options"><h2>Options</h2>'
    if not options and not applied:
        return head + '<p class="empty">No options record in this result.</p></section>'
    left = _requested(options) if options else '<p class="empty">No options record.</p>'
    right = _applied(applied) if applied else '<p class="empty">Nothing reported as applied.</p>'
    return f'{head}<div class="two-col"><div>{left}</div><div>{right}</div></div></section>'
