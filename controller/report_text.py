"""Plain-text rendering of a profile result for the terminal (``devicelab profile``, ``job``).

Written by hand, not with a table library: scripts and tests read this text, so its
columns stay exactly as they are (``controller/cli/progress.py`` says why tqdm, not rich).
"""

from __future__ import annotations

from typing import Any

from controller.results import AGENT_CPU_NOTABLE_SHARE


def _ms(us: float) -> str:
    return f"{us / 1000:.3f} ms"


def _mib(num_bytes: float) -> str:
    return f"{num_bytes / (1024 * 1024):.1f} MiB"


_BOLD, _RESET = "\033[1m", "\033[0m"


def loud_lines(result: dict[str, Any]) -> list[str]:
    """What a reader must not miss: a simulated device, an NPU asked for that ran nothing."""
    extra = result.get("devicelab", {})
    lines = []
    if extra.get("simulated"):
        sim = extra.get("simulation", {})
        stands_in = sim.get("stands_in_for", {}).get("name")
        lines.append(
            f"*** SIMULATED: {sim.get('soc', '?')} ({sim.get('part_number', '?')}) on Qualcomm's "
            "HTP simulator on this host's CPU"
            + (f", standing in for {stands_in!r}" if stands_in else "")
            + ". NPU placement and cycles are the simulator's; times are NOT a phone's. ***"
        )
    lines.extend(f"*** {warning} ***" for warning in extra.get("warnings", []))
    return lines


def summary_text(result: dict[str, Any], bold: bool = False) -> str:
    """The summary block of a profile result; ``bold`` marks the loud lines for a terminal."""
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
    agent_cpu = agent_cpu_line(extra.get("loop_cpu", {}))
    if agent_cpu:
        lines.append(agent_cpu)
    for fallback in applied.get("fallbacks", []):
        lines.append(f"fallback:         {fallback}")
    for warning in applied.get("warnings", []):
        lines.append(f"warning:          {warning}")
    loud = [f"{_BOLD}{line}{_RESET}" if bold else line for line in loud_lines(result)]
    return "\n".join([*loud, *lines, *loud])


def agent_cpu_line(loop_cpu: dict[str, Any]) -> str | None:
    """The agent's CPU during the timed loop, when it is more than a small share of it."""
    share = loop_cpu.get("agent_share_of_loop", 0.0)
    if share < AGENT_CPU_NOTABLE_SHARE:
        return None
    return (
        f"agent CPU:        {loop_cpu['agent_cpu_s'] * 1000:.1f} ms during the timed loop"
        f" ({share:.1%} of it; {loop_cpu['agent_context_switches']} wake-ups):"
        " something ran beside the measurement"
    )


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
