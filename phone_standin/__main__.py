"""Command line: run one phone stand-in device until killed (test infrastructure).

Example::

    python -m phone_standin --sandbox /tmp/phone --props props.json --adb-connect
    python -m phone_standin --arch aarch64 --sandbox /tmp/arm-phone --adb-connect

prints ``stand-in device listening on 127.0.0.1:PORT`` and, with
``--adb-connect``, registers it with the adb server (``adb connect``) and
unregisters it on exit. Ctrl-C or SIGTERM stops it and kills the processes its
shells started.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from controller.errors import Error
from phone_standin.device import StandinConfig, StandinDevice
from phone_standin.props import FEATURES, load_props_file


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m phone_standin",
        description="Run a phone stand-in: a test device the real adb server can `adb connect` to.",
    )
    parser.add_argument(
        "--sandbox", type=Path, required=True, help="directory playing the device's /"
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: loopback)")
    parser.add_argument("--props", type=Path, help="JSON object of system properties")
    parser.add_argument(
        "--serial-name", help="value of ro.serialno (the adb serial stays HOST:PORT)"
    )
    parser.add_argument(
        "--adb-connect", action="store_true", help="run `adb connect` once listening"
    )
    parser.add_argument("--adb", default="adb", help="adb binary for --adb-connect (default: adb)")
    parser.add_argument(
        "--adb-port",
        type=int,
        default=int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037")),
        help="adb server port for --adb-connect (default: $ANDROID_ADB_SERVER_PORT or 5037)",
    )
    parser.add_argument(
        "--arch",
        choices=("host", "aarch64"),
        default="host",
        help="host: commands on this host's /bin/sh (default); aarch64: an Android-like "
        "root under qemu-user, as the shell user (needs root and Linux >= 6.7)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="aarch64: where qemu and busybox are cached "
        "(default: $DEVICELAB_HOME/cache/phone-standin)",
    )
    parser.add_argument(
        "--features",
        help="comma-separated CNXN features (default: a current adbd's, with sync v2 and "
        "compression; shell_v2,cmd,stat_v2 plays a phone before Android 11)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every stream")
    return parser.parse_args(argv)


def _adb(args: argparse.Namespace, *command: str) -> str:
    completed = subprocess.run(
        [args.adb, "-P", str(args.adb_port), *command],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return (completed.stdout + completed.stderr).strip()


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        props = load_props_file(args.props) if args.props else {}
        config = StandinConfig(
            args.sandbox, props, args.serial_name, args.host, args.port,
            arch=args.arch, cache_dir=args.cache_dir,
            features=tuple(args.features.split(",")) if args.features else FEATURES,
        )  # fmt: skip
        device = StandinDevice(config).start()
    except (OSError, ValueError, RuntimeError, Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"stand-in device listening on {device.serial} (sandbox {device.root})", flush=True)
    try:
        if args.adb_connect:
            print(_adb(args, "connect", device.serial), flush=True)
        _wait_for_signal()
    finally:
        if args.adb_connect:
            _adb(args, "disconnect", device.serial)
        device.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
