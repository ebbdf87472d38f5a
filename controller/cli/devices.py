"""``devicelab devices``: reachable devices with their attributes and health state;
``--history`` the stored transitions, ``--release`` a person putting a device back."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import controller as hub
from controller.api import current_store
from controller.cli._common import EXIT_OK, add_simulate


def register(sub: Any) -> None:
    """Register ``devices`` on the top-level subparsers."""
    devices = sub.add_parser(
        "devices", help="list reachable devices, their attributes and health state"
    )
    devices.add_argument("--name", default="", help="exact device name")
    devices.add_argument("--os", default="", help='OS version or interval, e.g. "[12,15)"')
    devices.add_argument("--attribute", action="append", default=[], help="required attribute")
    devices.add_argument("--json", action="store_true", help="print JSON")
    devices.add_argument(
        "--history",
        nargs="?",
        const="",
        metavar="SERIAL",
        help="the stored state transitions (of one device), with time and reason",
    )
    devices.add_argument(
        "--release",
        metavar="SERIAL",
        help="put a quarantined (or offline, resting, suspect) device back to available",
    )
    add_simulate(devices)
    devices.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Reachable devices with their health state and why; devices the health machine
    holds off (offline, quarantined) are listed even when adb no longer lists them."""
    if args.release:
        return _release(args.release)
    if args.history is not None:
        return _history(args.history or None, args.json)
    found = hub.get_devices(args.name, args.os, args.attribute)
    shown = {d.serial for d in found}
    filtered = bool(args.name or args.os or args.attribute)
    absent = [
        status
        for status in current_store().device_statuses()
        if status.serial not in shown and not status.takes_jobs and not filtered
    ]
    if args.json:
        rows = [
            {"name": d.name, "serial": d.serial, "os": d.os, "attributes": list(d.attributes),
             "state": d.state, "reason": d.state_reason, "reachable": True, "host": d.host}
            for d in found
        ] + [
            {"name": "", "serial": s.serial, "os": "", "attributes": [], "state": s.state.value,
             "reason": s.reason, "reachable": False}
            for s in absent
        ]  # fmt: skip
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for device in found:
        host = f"  on {device.host}" if device.host else ""
        print(f"{device.name}  [{device.serial}]  os {device.os or '?'}  {device.state}{host}")
        print(f"    {' '.join(device.attributes)}")
        if device.state != "available" and device.state_reason:
            print(f"    {device.state}: {device.state_reason}")
    for status in absent:
        print(f"?  [{status.serial}]  not reachable  {status.state.value}")
        print(f"    {status.state.value}: {status.reason}")
    if not found and not absent:
        print("no matching device", file=sys.stderr)
    return EXIT_OK


def _release(serial: str) -> int:
    """``devicelab devices --release SERIAL``: a person says the device is fine."""
    import getpass

    from controller.device_states import Released

    status = current_store().device_event(
        serial, Released(f"{getpass.getuser()} (devicelab devices)")
    )
    if status is None:
        print(f"{serial} is available already")
    else:
        print(f"{serial}: {status.state.value} ({status.reason})")
    return EXIT_OK


def _history(serial: str | None, as_json: bool) -> int:
    """``devicelab devices --history [SERIAL]``: stored transitions, oldest first."""
    rows = [
        {"at": t.at.isoformat(timespec="seconds"), "serial": t.serial,
         "from": t.from_state.value, "to": t.to_state.value, "reason": t.reason,
         "job": t.job_id or ""}
        for t in current_store().device_transitions(serial, limit=200)
    ]  # fmt: skip
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        job = f"  (job {row['job']})" if row["job"] else ""
        print(f"{row['at']}  {row['serial']}  {row['from']} -> {row['to']}  {row['reason']}{job}")
    if not rows:
        print("no device has changed state", file=sys.stderr)
    return EXIT_OK
