"""Push throughput: devicelab's adb transport vs raw ``adb push``, side by side.

Both push the same 50 MB file to the same phone stand-in through the same real
adb server, alternating for several rounds. Prints the median throughput of
each, the ratio ours / adb push (target >= 0.9), the full artifact push (sync +
the agent's sha256 check and adoption), and a repeat push of the unchanged
artifact (target: 0 bytes).

    .venv/bin/python scripts/bench_push.py [--size-mb 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _mb_per_s(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def bench(args: argparse.Namespace, work: Path) -> None:
    from controller.phone_standin.testing import adb_server, standin_subprocess
    from controller.transports.adb import AdbTransport
    from controller.transports.adb_sync import sync_push

    payload = work / "payload.bin"
    payload.write_bytes(os.urandom(args.size_mb * 1_000_000))
    size = payload.stat().st_size
    with adb_server() as server, standin_subprocess(server, work / "phone") as serial:
        os.environ["ANDROID_ADB_SERVER_PORT"] = str(server.port)
        device = server.client().device(serial)
        ours, raw = [], []
        for i in range(args.rounds):
            # Same destination name each time, removed between pushes: the stand-in's
            # disk must not fill with copies (writeback throttling skewed later rounds).
            target = f"/data/local/tmp/payload_{i}.bin"
            start = time.perf_counter()
            sync_push(device, payload, target)
            ours.append(_mb_per_s(size, time.perf_counter() - start))
            device.shell(f"rm -f {target}")
            start = time.perf_counter()
            server.run("-s", serial, "push", str(payload), target)
            raw.append(_mb_per_s(size, time.perf_counter() - start))
            device.shell(f"rm -f {target}")
        ours_median, raw_median = statistics.median(ours), statistics.median(raw)
        print(f"{args.rounds} rounds, {size / 1e6:.0f} MB, stand-in {serial}")
        print(f"devicelab sync push  {ours_median:8.1f} MB/s  (rounds: {_fmt(ours)})")
        print(f"adb push             {raw_median:8.1f} MB/s  (rounds: {_fmt(raw)})")
        print(f"ratio ours / adb push: {ours_median / raw_median:.2f} (target >= 0.9)")
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        sync_push(device, payload, "/data/local/tmp/cpu_probe.bin")
        cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
        print(
            f"our push used {cpu * 1000:.0f} ms of this process's CPU in {wall * 1000:.0f} ms "
            f"(on {os.cpu_count()} cores, shared with the adb server and the stand-in)"
        )
        artifact_push(AdbTransport(device), payload, size)


def artifact_push(transport: object, payload: Path, size: int) -> None:
    """The product path: push + device-side hash check, then the repeat that sends nothing."""
    from controller.agent_client import Artifact

    client = transport.connect()  # type: ignore[attr-defined]
    sent: list[int] = []
    start = time.perf_counter()
    artifact = Artifact.from_file(payload)
    transport.push_artifact(client, artifact, lambda done, total: sent.append(done))  # type: ignore[attr-defined]
    first = time.perf_counter() - start
    print(
        f"artifact push incl. sha256 check on the device: {_mb_per_s(size, first):.1f} MB/s "
        f"({first:.2f} s)"
    )
    sent.clear()
    start = time.perf_counter()
    transport.push_artifact(client, artifact, lambda done, total: sent.append(done))  # type: ignore[attr-defined]
    repeat = time.perf_counter() - start
    pushed = sent[-1] if sent else 0
    print(f"repeat push of the unchanged artifact: {pushed} bytes in {repeat * 1000:.1f} ms")
    transport.close()  # type: ignore[attr-defined]


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DEVICELAB_HOME", tempfile.mkdtemp(prefix="devicelab-bench-"))
    with tempfile.TemporaryDirectory() as tmp:
        bench(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
