"""The device runtime: its size, its first deploy vs a raw ``adb push``, and what later
deploys push.

Builds the runtime (from the download caches; ``--cold`` empties them first), starts
the aarch64 phone stand-in in its own process (qemu-user, Android-like root) behind
the real adb server, and prints side by side in one run:

- runtime size on disk and compressed (target <= 70 MB compressed), build time;
- the runtime push through devicelab vs ``adb push`` of the same archive (ratio);
- the first deploy end to end (push + sha256 + unpack + verify + agent start) vs the
  raw ``adb push`` (ratio; unpack, verify and the agent's start run under qemu here,
  15-800x slower than on a phone: that part says nothing about a phone);
- bytes pushed by a repeat deploy (target 0) and after a code-only change (the agent
  zip only, never the runtime).

    .venv/bin/python scripts/bench_device_runtime.py [--rounds 3] [--qnn]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROPS = {"ro.product.model": "SM-S911B", "ro.soc.model": "SM8550",
         "ro.build.version.release": "14", "ro.product.cpu.abi": "arm64-v8a"}  # fmt: skip


def build(args: argparse.Namespace) -> Any:
    from controller.device_runtime.build import build_runtime
    from controller.settings import home_dir

    if args.cold:
        shutil.rmtree(home_dir() / "cache", ignore_errors=True)
    start = time.perf_counter()
    bundle = build_runtime("aarch64", rebuild=True)
    seconds = time.perf_counter() - start
    manifest = bundle.manifest
    print(f"runtime {bundle.runtime_id}: built in {seconds:.1f} s "
          f"({'cold caches' if args.cold else 'download caches warm'})")  # fmt: skip
    print(f"  on disk {manifest['unpacked_bytes'] / 1e6:.1f} MB in {manifest['files']} files; "
          f"compressed {bundle.size / 1e6:.1f} MB ({bundle.size / 2**20:.1f} MiB; "
          "target <= 70 MB)")  # fmt: skip
    if args.qnn:
        qnn = build_runtime("aarch64", qnn=True)
        print(f"  with onnxruntime-qnn: on disk {qnn.manifest['unpacked_bytes'] / 1e6:.1f} MB, "
              f"compressed {qnn.size / 1e6:.1f} MB")  # fmt: skip
    return bundle


def pushes(server: Any, device: Any, serial: str, archive: Path, rounds: int) -> float:
    """Our sync push of the archive vs ``adb push``, alternating; returns adb's median (s)."""
    from controller.transports.adb_sync import sync_push

    ours, raw = [], []
    target = "/data/local/tmp/bench-runtime.tar.gz"
    for _ in range(rounds):
        start = time.perf_counter()
        sync_push(device, archive, target)
        ours.append(time.perf_counter() - start)
        device.shell(f"rm -f {target}")
        start = time.perf_counter()
        server.run("-s", serial, "push", str(archive), target)
        raw.append(time.perf_counter() - start)
        device.shell(f"rm -f {target}")
    size = archive.stat().st_size
    ours_s, raw_s = statistics.median(ours), statistics.median(raw)
    print(f"runtime push ({rounds} rounds, {size / 1e6:.1f} MB): "
          f"devicelab {size / ours_s / 1e6:.0f} MB/s, adb push {size / raw_s / 1e6:.0f} MB/s, "
          f"ratio ours / adb push {raw_s / ours_s:.2f}")  # fmt: skip
    return raw_s


def deploys(device: Any, raw_push_s: float) -> None:
    from controller import agent_bundle
    from controller.transports.adb import AdbDeviceConfig, AdbTransport

    first = AdbTransport(device, AdbDeviceConfig())
    push_s: list[float] = []
    push_file = first._push_file

    def timed_push(src: str, dst: str) -> None:
        started = time.perf_counter()
        push_file(src, dst)
        push_s.append(time.perf_counter() - started)

    first._push_file = timed_push  # type: ignore[method-assign]
    start = time.perf_counter()
    first.connect()
    first_s = time.perf_counter() - start
    print(f"first deploy: the runtime's push {sum(push_s):.2f} s of {first_s:.1f} s")
    print(f"first deploy (push, sha256, unpack, verify, agent start): {first_s:.1f} s, "
          f"{first.deploy_bytes / 1e6:.1f} MB pushed; vs raw adb push of the runtime "
          f"{raw_push_s:.2f} s: ratio {first_s / raw_push_s:.1f} "
          "(unpack, verify and start run under qemu)")  # fmt: skip
    first.close()
    repeat = AdbTransport(device, AdbDeviceConfig())
    start = time.perf_counter()
    repeat.connect()
    seconds = time.perf_counter() - start
    print(f"repeat deploy: {repeat.deploy_bytes} bytes pushed in {seconds:.1f} s "
          "(target 0: attaches to the running agent)")  # fmt: skip
    repeat.close()
    agent_bundle.AGENT_MAIN += b"# a code-only change\n"
    agent_bundle.agent_bundle.cache_clear()
    changed = AdbTransport(device, AdbDeviceConfig())
    start = time.perf_counter()
    changed.connect()
    print(f"after a code-only change: {changed.deploy_bytes / 1e3:.1f} kB pushed (the agent zip "
          f"{agent_bundle.agent_bundle().stat().st_size / 1e3:.1f} kB; runtime 0) in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    changed.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--qnn", action="store_true", help="also build and size the qnn runtime")
    parser.add_argument("--cold", action="store_true", help="empty the download caches first")
    args = parser.parse_args()
    os.environ.setdefault("DEVICELAB_HOME", tempfile.mkdtemp(prefix="devicelab-bench-"))
    os.environ.pop("DEVICELAB_DEVICE_PYTHON", None)
    from phone_standin import aarch64_unavailable_reason
    from phone_standin.testing import adb_server, standin_subprocess

    bundle = build(args)
    cache = Path(os.environ["DEVICELAB_HOME"]) / "cache" / "phone-standin"
    reason = aarch64_unavailable_reason(cache)
    if reason is not None:
        print(f"deploy figures skipped: {reason}")
        return 0
    with tempfile.TemporaryDirectory() as tmp, adb_server() as server:
        props = Path(tmp) / "props.json"
        props.write_text(json.dumps(PROPS))
        options = ("--arch", "aarch64", "--props", str(props), "--cache-dir", str(cache))
        with standin_subprocess(server, Path(tmp) / "phone", *options) as serial:
            os.environ["ANDROID_ADB_SERVER_PORT"] = str(server.port)
            device = server.client().device(serial)
            raw_push_s = pushes(server, device, serial, bundle.path, args.rounds)
            deploys(device, raw_push_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
