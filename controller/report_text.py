"""Plain-text rendering of a profile result for the terminal (``devicelab profile``, ``job``).

Written by hand, not with a table library: scripts and tests read this text, so its
columns stay exactly as they are (``controller/cli/progress.py`` says why tqdm, not rich).
"""

from __future__ import annotations

from typing import Any

from controller.events import AppliedSettings
from controller.profile_result import Load, ProfileResult
from controller.results import AGENT_CPU_NOTABLE_SHARE


def _ms(us: float) -> str:
    return f"{us / 1000:.3f} ms"


def _mib(num_bytes: float) -> str:
    return f"{num_bytes / (1024 * 1024):.1f} MiB"


_BOLD, _RESET = "\033[1m", "\033[0m"


def loud_lines(result: ProfileResult | dict[str, Any]) -> list[str]:
    """What a reader must not miss: a simulated device, an NPU asked for that ran nothing."""
    profile = ProfileResult.of(result)
    extra = profile.context
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
    lines.extend(f"*** {warning} ***" for warning in profile.warnings)
    return lines


def summary_text(result: ProfileResult | dict[str, Any], bold: bool = False) -> str:
    """The summary block of a profile result; ``bold`` marks the loud lines for a terminal."""
    profile = ProfileResult.of(result)
    stats = profile.stats
    applied = profile.applied or AppliedSettings(runtime="?")
    first = profile.first_load or Load(0, 0, 0)
    warm = profile.warm_load or Load(0, 0, 0)
    lines = [
        f"device:           {profile.device or '?'}   job: {profile.job_id or '?'}",
        f"runtime:          {applied.runtime} {applied.runtime_version}"
        f"  accelerators: {', '.join(applied.accelerators) or '-'}",
        f"first load:       {_ms(first.time_us)}  (peak {_mib(first.peak_memory_bytes)})",
        f"warm load:        {_ms(warm.time_us)}  (peak {_mib(warm.peak_memory_bytes)})",
        f"inference median: {_ms(stats.median if stats else 0)}"
        f"   p90: {_ms(stats.p90 if stats else 0)}   min: {_ms(stats.min if stats else 0)}",
        f"iterations:       {profile.iterations} (stopped by {profile.stop_reason or '?'})",
        f"peak memory:      {_mib(profile.inference_peak_memory_bytes)}",
    ]
    agent_cpu = agent_cpu_line(profile.loop_cpu or {})
    if agent_cpu:
        lines.append(agent_cpu)
    for fallback in applied.fallbacks:
        lines.append(f"fallback:         {fallback}")
    for warning in applied.warnings:
        lines.append(f"warning:          {warning}")
    loud = [f"{_BOLD}{line}{_RESET}" if bold else line for line in loud_lines(profile)]
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


def layer_table(result: ProfileResult | dict[str, Any], top: int | None = None) -> str:
    """Per-layer table sorted by time, with each layer's share of the layer total."""
    layers = sorted(
        ProfileResult.of(result).layers, key=lambda e: e.execution_time_us, reverse=True
    )
    if not layers:
        return "(no per-layer timings)"
    total = sum(e.execution_time_us for e in layers) or 1.0
    shown = layers[:top] if top else layers
    width = min(48, max(len(e.name) for e in shown))
    header = (
        f"{'name':<{width}}  {'type':<22} {'unit':<4} {'time us':>10} {'share':>6} {'cycles':>10}"
    )
    rows = [header, "-" * len(header)]
    for entry in shown:
        cycles = entry.execution_cycles
        rows.append(
            f"{entry.name[:width]:<{width}}  {entry.type[:22]:<22} {entry.compute_unit:<4}"
            f" {entry.execution_time_us:>10.1f} {100 * entry.execution_time_us / total:>5.1f}%"
            f" {cycles if cycles is not None else '':>10}"
        )
    if top and len(layers) > top:
        rows.append(f"... {len(layers) - top} more layers")
    return "\n".join(rows)
