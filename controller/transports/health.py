"""Device health snapshots: battery, temperatures, thermal status, CPU governor and clocks.

Taken before and after every job and stored with its result: a phone that was
hot or throttled explains a slow run. Each reading is best effort: what a device
does not expose is left out, never guessed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import psutil

ShellRunner = Callable[[str], str]  # runs one shell command on the device, returns stdout

# One shell round trip for everything: adb shells cost milliseconds each.
_SNAPSHOT_SCRIPT = (
    "dumpsys battery 2>/dev/null; echo '@@thermal';"
    " for z in /sys/class/thermal/thermal_zone*; do"
    ' echo "$(cat $z/type 2>/dev/null) $(cat $z/temp 2>/dev/null)"; done;'
    " echo '@@status'; dumpsys thermalservice 2>/dev/null | grep -i 'Thermal Status';"
    " echo '@@cpu'; for c in /sys/devices/system/cpu/cpu[0-9]*; do"
    ' echo "${c##*/} $(cat $c/cpufreq/scaling_governor 2>/dev/null)'
    ' $(cat $c/cpufreq/scaling_cur_freq 2>/dev/null)"; done'
)


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {"battery": []}
    current = "battery"
    for line in text.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            sections[current] = []
        elif line.strip():
            sections[current].append(line.strip())
    return sections


def _battery(lines: list[str]) -> dict[str, Any]:
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
    battery: dict[str, Any] = {}
    if fields.get("level", "").isdigit():
        battery["battery_level"] = int(fields["level"])
    if fields.get("temperature", "").lstrip("-").isdigit():
        battery["battery_temperature_c"] = int(fields["temperature"]) / 10  # tenths of a degree
    return battery


def _thermal_zones(lines: list[str]) -> dict[str, float]:
    zones: dict[str, float] = {}
    for line in lines:
        name, _, value = line.rpartition(" ")
        if value.lstrip("-").isdigit():
            raw = int(value)
            # sysfs reports millidegrees; a few vendors report whole degrees.
            zones[name or f"zone{len(zones)}"] = raw / 1000 if abs(raw) > 1000 else float(raw)
    return zones


def _cpus(lines: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    governors, freqs = {}, {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 2:
            governors[parts[0]] = parts[1]
        if len(parts) >= 3 and parts[2].isdigit():
            freqs[parts[0]] = int(parts[2])  # kHz
    return governors, freqs


def parse_snapshot(text: str) -> dict[str, Any]:
    """Parse the output of ``_SNAPSHOT_SCRIPT`` into a health dict."""
    sections = _sections(text)
    health: dict[str, Any] = {"taken_at": time.time(), **_battery(sections.get("battery", []))}
    zones = _thermal_zones(sections.get("thermal", []))
    if zones:
        health["thermal_zones_c"] = zones
        health["max_temperature_c"] = max(zones.values())
    status = re.search(r"(\d+)", " ".join(sections.get("status", [])))
    if status:
        health["thermal_status"] = int(status.group(1))
    governors, freqs = _cpus(sections.get("cpu", []))
    if governors:
        health["cpu_governors"] = governors
    if freqs:
        health["cpu_freq_khz"] = freqs
    return health


def shell_snapshot(run_shell: ShellRunner) -> dict[str, Any]:
    """Health of a device reached through a shell (adb)."""
    try:
        return parse_snapshot(run_shell(_SNAPSHOT_SCRIPT))
    except Exception as exc:  # health must never fail a job
        return {"taken_at": time.time(), "error": f"{type(exc).__name__}: {exc}"}


def local_snapshot() -> dict[str, Any]:
    """Health of this host, from psutil."""
    health: dict[str, Any] = {"taken_at": time.time()}
    battery = psutil.sensors_battery() if hasattr(psutil, "sensors_battery") else None
    if battery is not None:
        health["battery_level"] = round(battery.percent)
    temps = psutil.sensors_temperatures() if hasattr(psutil, "sensors_temperatures") else {}
    zones = {
        f"{name}{i}": t.current for name, entries in temps.items() for i, t in enumerate(entries)
    }
    if zones:
        health["thermal_zones_c"] = zones
        health["max_temperature_c"] = max(zones.values())
    freqs = psutil.cpu_freq(percpu=True) or []
    if freqs:
        health["cpu_freq_khz"] = {f"cpu{i}": int(f.current * 1000) for i, f in enumerate(freqs)}
    return health


def wait_until_cool(
    snapshot: Callable[[], dict[str, Any]],
    max_temperature_c: float | None,
    timeout_sec: float,
    poll_sec: float = 5.0,
) -> dict[str, Any]:
    """Wait while the device is hotter than ``max_temperature_c``; return the last snapshot.

    Gives up after ``timeout_sec`` and lets the job run anyway (its health record
    shows the temperature): a lab that never cools should not hang every job.
    """
    deadline = time.monotonic() + timeout_sec
    health = snapshot()
    while (
        max_temperature_c is not None
        and health.get("max_temperature_c", float("-inf")) > max_temperature_c
        and time.monotonic() < deadline
    ):
        time.sleep(poll_sec)
        health = snapshot()
    return health
