#!/usr/bin/env python3
"""Device-like commands for the phone stand-in's sandbox (test infrastructure).

This file is copied into ``SANDBOX/system/bin`` under several names
(``getprop``, ``dumpsys``, ``cmd``) with its first line replaced by the
interpreter running the stand-in; it dispatches on the name it was run as. It
must stay standalone (standard library only, no package imports) because it
runs as a plain script from the device shell.

Props are read on every call from the JSON file named by
``DEVICELAB_STANDIN_PROPS`` (set in every stand-in shell), falling back to
``../../.standin/props.json`` next to this script, so ``StandinDevice.set_prop``
changes are visible at once.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _props_path() -> Path:
    configured = os.environ.get("DEVICELAB_STANDIN_PROPS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / ".standin" / "props.json"


def load_props() -> dict[str, str]:
    """The current props; an unreadable file reads as no props (like a bare device)."""
    try:
        data = json.loads(_props_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(key): str(value) for key, value in data.items()}


def getprop(args: list[str]) -> int:
    """``getprop`` (all, ``[key]: [value]`` sorted), ``getprop KEY [DEFAULT]``."""
    props = load_props()
    if not args:
        for key in sorted(props):
            print(f"[{key}]: [{props[key]}]")
        return 0
    default = args[1] if len(args) > 1 else ""
    print(props.get(args[0], default))
    return 0


def dumpsys(args: list[str]) -> int:
    """Only ``dumpsys battery``; other services are reported missing, as on a device."""
    if args[:1] != ["battery"]:
        service = args[0] if args else ""
        print(f"Can't find service: {service}", file=sys.stderr)
        return 0
    props = load_props()
    level = props.get("standin.battery.level", "85")
    temperature = props.get("standin.battery.temperature", "290")
    print(
        "Current Battery Service state:\n"
        "  AC powered: false\n  USB powered: true\n  Wireless powered: false\n"
        "  Max charging current: 500000\n  Max charging voltage: 5000000\n"
        "  Charge counter: 3000000\n  status: 2\n  health: 2\n  present: true\n"
        f"  level: {level}\n  scale: 100\n  voltage: 4200\n"
        f"  temperature: {temperature}\n  technology: Li-ion"
    )
    return 0


def cmd(args: list[str]) -> int:
    """A stub ``cmd`` (the banner's ``cmd`` feature): no system services exist here."""
    if not args:
        print("cmd: No service specified; use -l to list all services", file=sys.stderr)
    elif args[0] == "-l":
        print("Currently running services:")
        return 0
    else:
        print(f"cmd: Can't find service: {args[0]}", file=sys.stderr)
    return 20


TOOLS = {"getprop": getprop, "dumpsys": dumpsys, "cmd": cmd}


def main(argv: list[str]) -> int:
    """Dispatch on the program name (argv[0])."""
    tool = TOOLS.get(os.path.basename(argv[0]))
    if tool is None:
        print(f"{argv[0]}: unknown stand-in tool", file=sys.stderr)
        return 127
    return tool(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
