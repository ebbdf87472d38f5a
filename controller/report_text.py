"""Plain-text rendering of a profile result for the terminal."""

from __future__ import annotations

from typing import Any


def _ms(us: float) -> str:
    return f"{us / 1000:.3f} ms"


def _mib(num_bytes: float) -> str:
    return f"{num_bytes / (1024 * 1024):.1f} MiB"


def summary_text(result: dict[str, Any]) -> str:
    summary = result["execution_summary"]
    extra = result.get("devicelab", {})
    stats = extra.get("inference_time_stats_us", {})
    applied = extra.get("applied", {})
    lines = [
        f"device:           {extra.get('device', '?')}   job: {extra.get('job_id', '?')}",
        f"runtime:          {applied.get('runtime', '?')} {applied.get('runtime_version', '')}"
        f"  accelerators: {', '.join(applied.get('accelerators', [])) or '-'}",
        f"first load:       {_ms(summary['first_load_time'])}"
        f"  (peak {_mib(summary['first_load_peak_memory'])})",
        f"warm load:        {_ms(summary['warm_load_time'])}"
        f"  (peak {_mib(summary['warm_load_peak_memory'])})",
        f"inference median: {_ms(stats.get('median', 0))}   p90: {_ms(stats.get('p90', 0))}"
        f"   min: {_ms(stats.get('min', 0))}",
        f"iterations:       {extra.get('iterations', 0)}"
        f" (stopped by {extra.get('stop_reason', '?')})",
        f"peak memory:      {_mib(summary['estimated_inference_peak_memory'])}",
    ]
    for fallback in applied.get("fallbacks", []):
        lines.append(f"fallback:         {fallback}")
    for warning in applied.get("warnings", []):
        lines.append(f"warning:          {warning}")
    return "\n".join(lines)


def layer_table(result: dict[str, Any], top: int | None = None) -> str:
    """Per-layer table sorted by time, with each layer's share of the layer total."""
    layers = sorted(result["execution_detail"], key=lambda e: e["execution_time"], reverse=True)
    if not layers:
        return "(no per-layer timings)"
    total = sum(e["execution_time"] for e in layers) or 1.0
    shown = layers[:top] if top else layers
    width = min(48, max(len(e["name"]) for e in shown))
    header = (
        f"{'name':<{width}}  {'type':<22} {'unit':<4} {'time us':>10} {'share':>6} {'cycles':>10}"
    )
    rows = [header, "-" * len(header)]
    for entry in shown:
        cycles = entry.get("execution_cycles")
        rows.append(
            f"{entry['name'][:width]:<{width}}  {entry['type'][:22]:<22} {entry['compute_unit']:<4}"
            f" {entry['execution_time']:>10.1f} {100 * entry['execution_time'] / total:>5.1f}%"
            f" {cycles if cycles is not None else '':>10}"
        )
    if top and len(layers) > top:
        rows.append(f"... {len(layers) - top} more layers")
    return "\n".join(rows)
