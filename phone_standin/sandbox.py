"""Lay out the phone stand-in's sandbox: the directory playing the device's ``/`` (test infra).

Created (or refreshed) at every start:

* ``data/local/tmp``, ``storage/emulated/0`` with ``sdcard`` -> it (as on Android),
  ``vendor/lib64``;
* ``system/bin``: ``getprop``, ``dumpsys``, ``cmd`` (copies of ``device_tools.py``)
  and ``sh`` -> ``/bin/sh`` so ``/system/bin/sh`` keeps working after path
  rewriting; this directory is first on the shell's PATH;
* ``.standin/props.json``: the props the tools serve (and ``props.prop``, the
  same as sorted ``KEY=VALUE`` lines for the aarch64 root's sh tools);
* fake ``sys/`` files (thermal zone, battery, cpufreq), regenerated from props,
  so ``cat /sys/class/thermal/thermal_zone0/temp`` reads the sandbox copy.

User files under ``data/`` and ``sdcard/`` are left alone between runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from phone_standin import device_tools

TOOL_NAMES = tuple(device_tools.TOOLS)
PROPS_RELATIVE = Path(".standin") / "props.json"
PROPS_LINES_RELATIVE = Path(".standin") / "props.prop"
BIN_RELATIVE = Path("system") / "bin"
_UNSAFE_CHARS = re.compile(r"[\s'\"`;|&<>()$\\*?\[\]{}!#~:]")


def prepare_sandbox(root: Path, props: Mapping[str, str]) -> Path:
    """Create the sandbox layout under root and return its resolved path.

    Raises:
        ValueError: root contains characters that would break rewritten shell commands.
    """
    root = Path(root).resolve()
    if _UNSAFE_CHARS.search(str(root)):
        raise ValueError(f"sandbox path {root} must not contain whitespace or shell metacharacters")
    if (root / BIN_RELATIVE / "busybox").exists():
        # An aarch64 run's busybox links would shadow the host's tools on PATH.
        shutil.rmtree(root / BIN_RELATIVE)
    for relative in ("data/local/tmp", "storage/emulated/0", "vendor/lib64", BIN_RELATIVE):
        (root / relative).mkdir(parents=True, exist_ok=True)
    _symlink(root / "sdcard", "storage/emulated/0")
    _symlink(root / BIN_RELATIVE / "sh", "/bin/sh")
    write_props(root, props)
    _install_tools(root / BIN_RELATIVE)
    write_sys_files(root, props)
    return root


def write_props(root: Path, props: Mapping[str, str]) -> None:
    """Atomically replace the props files (tools may be reading them concurrently)."""
    lines = "".join(f"{key}={' '.join(str(props[key]).splitlines())}\n" for key in sorted(props))
    _replace(root / PROPS_LINES_RELATIVE, lines)
    _replace(root / PROPS_RELATIVE, json.dumps(dict(props), indent=1, sort_keys=True))


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o644)
    os.replace(temporary, path)


def _install_tools(bin_dir: Path) -> None:
    # The shebang names the interpreter running the stand-in: the "device's" python.
    source = Path(device_tools.__file__).read_text(encoding="utf-8").split("\n", 1)[1]
    script = f"#!{sys.executable}\n{source}"
    for name in TOOL_NAMES:
        path = bin_dir / name
        path.write_text(script, encoding="utf-8")
        path.chmod(0o755)


def write_sys_files(root: Path, props: Mapping[str, str]) -> None:
    """Write the fake sysfs files from the ``standin.*`` props."""
    cpu_count = int(props.get("standin.cpu.count", "8"))
    files = {
        "sys/class/thermal/thermal_zone0/type": props.get("standin.thermal.type", "cpu-0-0-usr"),
        "sys/class/thermal/thermal_zone0/temp": props.get("standin.thermal.temp", "35000"),
        "sys/class/power_supply/battery/capacity": props.get("standin.battery.level", "85"),
        "sys/class/power_supply/battery/temp": props.get("standin.battery.temperature", "290"),
        "sys/devices/system/cpu/online": f"0-{cpu_count - 1}",
        "sys/devices/system/cpu/possible": f"0-{cpu_count - 1}",
    }
    for cpu in range(cpu_count):
        files.update(_cpu_files(cpu, props))
    for relative, value in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{value}\n", encoding="utf-8")


def _cpu_files(cpu: int, props: Mapping[str, str]) -> dict[str, str]:
    base = f"sys/devices/system/cpu/cpu{cpu}"
    max_freq = props.get("standin.cpu.max_freq", "3302400")
    return {
        f"{base}/online": "1",
        f"{base}/cpufreq/scaling_governor": props.get("standin.cpu.governor", "schedutil"),
        f"{base}/cpufreq/scaling_available_governors": "schedutil performance powersave",
        f"{base}/cpufreq/scaling_cur_freq": max_freq,
        f"{base}/cpufreq/cpuinfo_max_freq": max_freq,
        f"{base}/cpufreq/scaling_max_freq": max_freq,
    }


def _symlink(link: Path, target: str) -> None:
    if link.is_symlink() or link.exists():
        return
    link.symlink_to(target)
