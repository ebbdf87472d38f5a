"""Is a block fit to compare? Device health per block, and why a block is discarded.

Every profile job records the device's health before and after it
(``controller/transports/health.py``: battery, temperatures, Android's thermal status,
CPU governors and clocks). A block measured while the device throttled says more
about the phone's heat than about the model, so it is left out of the comparison,
and the report says which block and why.
"""

from __future__ import annotations

from typing import Any

#: Android's thermal status from ``dumpsys thermalservice``: 0 none, 1 light,
#: 2 moderate, 3 severe, ... (PowerManager.THERMAL_STATUS_*,
#: https://developer.android.com/reference/android/os/PowerManager). From
#: "moderate" on, the platform caps clocks: the block ran on a slower phone.
THROTTLING_THERMAL_STATUS = 2


def throttle_reason(health: dict[str, Any], max_temperature_c: float) -> str | None:
    """Why a block's health disqualifies it (None: it may be compared).

    Args:
        health: ``{"before": snapshot, "after": snapshot}`` as a profile result keeps it.
        max_temperature_c: the hottest reading a kept block may have.
    """
    for when in ("before", "after"):
        snapshot = health.get(when) or {}
        status = snapshot.get("thermal_status")
        if isinstance(status, int) and status >= THROTTLING_THERMAL_STATUS:
            return f"thermal status {status} (throttling) {when} the block"
        hottest = snapshot.get("max_temperature_c")
        if isinstance(hottest, int | float) and hottest > max_temperature_c:
            return f"{hottest:.1f} °C {when} the block (limit {max_temperature_c:.1f} °C)"
    return None


def health_summary(health: dict[str, Any]) -> dict[str, Any]:
    """The readings a report shows per block: hottest zone, thermal status, battery,
    and the summed CPU clock (MHz) before and after."""
    summary: dict[str, Any] = {}
    for when in ("before", "after"):
        snapshot = health.get(when) or {}
        row: dict[str, Any] = {}
        for key in ("max_temperature_c", "thermal_status", "battery_level"):
            if key in snapshot:
                row[key] = snapshot[key]
        clocks = snapshot.get("cpu_freq_khz") or {}
        if clocks:
            row["cpu_mhz"] = round(sum(clocks.values()) / 1000)
        summary[when] = row
    return summary
