"""Push throughput: devicelab's sync push vs ``adb push``, side by side, compressed or not.

Two models of ``--size-mb`` each: an incompressible one (random bytes) and a
compressible one (int8 weights, 60 % of them zero, the rest small: a pruned,
quantized model). Both are pushed to phone stand-ins through one real adb server,
the one in the adbutils wheel (36.x: ``adb push`` there speaks sync v2 and
compresses with zstd by default, as against an Android 11+ phone):

- ``v2 default``: the stand-in advertises what a current adbd does; ``adb push``
  and ours both at their defaults (adb: zstd always; ours: zstd unless samples of
  the file do not shrink, so the random model goes uncompressed);
- ``v2 off``: same device, ``adb push -Z`` and ours with ``compression="none"``;
- ``v1 default``: a stand-in advertising no sync v2 (a phone before Android 11):
  no compression is possible, both fall back to v1 ``SEND``.

Every round pushes each (row, tool) once, the tool order alternating, and removes
the file after each push; the table has medians over ``--rounds`` (the machine
is shared and noisy: the ratio matters, not the absolute MB/s). Target: ours /
adb push >= 0.95 on both model kinds in the ``v2 default`` rows. Then the product
path: the artifact push with the agent's sha256 check, and the repeat push of an
unchanged artifact.

``--burst-mode`` starts the server with ``ADB_BURST_MODE=1`` (adb 36's opt-in
delayed_ack: byte windows instead of one packet in flight; the stand-in has it too).

    .venv/bin/python scripts/bench_push.py [--size-mb 50] [--rounds 9] [--burst-mode]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_RATIO = 0.95
V1_FEATURES = "shell_v2,cmd,stat_v2"


@dataclass
class Row:
    """One table row: a model on a device with a compression setting; MB/s and CPU per tool."""

    kind: str
    device: str
    compression: str
    ours: list[float] = field(default_factory=list)
    adb: list[float] = field(default_factory=list)
    ours_cpu_ms: list[float] = field(default_factory=list)
    adb_cpu_ms: list[float] = field(default_factory=list)


def compressible_model(path: Path, size: int) -> None:
    """int8 weights: 60 % zeros, the rest a narrow normal (zstd -1 gets ~2.2x)."""
    import numpy as np

    rng = np.random.default_rng(14)
    weights = np.clip(np.round(rng.normal(0.0, 12.0, size)), -127, 127).astype(np.int8)
    weights[rng.random(size) < 0.6] = 0
    path.write_bytes(weights.tobytes())


def _timed(action: Callable[[], object], size: int) -> tuple[float, float]:
    """MB/s, and the CPU ms the pushing side used: this process (ours, with zstd's worker
    threads) or the reaped ``adb`` client (``RUSAGE_CHILDREN``); server and stand-in not
    counted. CPU is steadier than MB/s on a shared machine."""
    cpu_start = _cpu_sec()
    start = time.perf_counter()
    action()
    wall = time.perf_counter() - start
    return size / wall / 1e6, (_cpu_sec() - cpu_start) * 1000


def _cpu_sec() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_round(row: Row, payload: Path, serial: str, server: Any, flip: bool) -> None:
    """Push once with each tool (order alternating by round); remove the file after each."""
    from controller.transports.adb_sync import sync_push

    device = server.client().device(serial)
    target = "/data/local/tmp/payload.bin"
    ours_word = "none" if row.compression == "off" else "any"
    adb_flags = ["-Z"] if row.compression == "off" else []
    tools: list[tuple[list[float], list[float], Callable[[], object]]] = [
        (
            row.ours,
            row.ours_cpu_ms,
            lambda: sync_push(device, payload, target, compression=ours_word),
        ),
        (
            row.adb,
            row.adb_cpu_ms,
            lambda: server.run("-s", serial, "push", *adb_flags, str(payload), target),
        ),
    ]
    size = payload.stat().st_size
    for speeds, cpu_ms, action in reversed(tools) if flip else tools:
        speed, cpu = _timed(action, size)
        speeds.append(speed)
        cpu_ms.append(cpu)
        device.shell(f"rm -f {target}")  # the stand-in's disk must not fill (writeback stalls)


def print_table(rows: list[Row], rounds: int, size_mb: int) -> None:
    burst = ", burst mode" if os.environ.get("ADB_BURST_MODE") == "1" else ""
    print(f"\n{size_mb} MB per model, median of {rounds} rounds, adb server 36.x{burst}")
    header = f"{'model':15} {'device':7} {'compress':8} {'devicelab':>9} {'adb push':>9}"
    print(f"{header} {'ratio':>6} {'paired':>6} {'CPU ms ours / adb':>18}")
    for row in rows:
        ours, adb = statistics.median(row.ours), statistics.median(row.adb)
        paired = statistics.median(o / a for o, a in zip(row.ours, row.adb, strict=True))
        cpu = f"{statistics.median(row.ours_cpu_ms):.0f} / {statistics.median(row.adb_cpu_ms):.0f}"
        line = f"{row.kind:15} {row.device:7} {row.compression:8} {ours:9.0f} {adb:9.0f}"
        print(f"{line} {ours / adb:6.2f} {paired:6.2f} {cpu:>18}")
    print(
        f"(MB/s of the file's size; ratio = median / median; paired = median of each round's "
        f"ours / adb push, pushed back to back; target >= {TARGET_RATIO}. CPU: the pushing "
        "side only, our process vs the adb client)"
    )
    for row in rows:
        print(f"  rounds {row.kind}/{row.device}/{row.compression}: ours {_fmt(row.ours)}"
              f" | adb {_fmt(row.adb)}")  # fmt: skip


def bench(args: argparse.Namespace, work: Path) -> None:
    from phone_standin.testing import adb_server, bundled_adb, standin_subprocess

    size = args.size_mb * 1_000_000
    models = {"incompressible": work / "random.bin", "compressible": work / "pruned_int8.bin"}
    models["incompressible"].write_bytes(os.urandom(size))
    compressible_model(models["compressible"], size)
    rows = [
        Row(kind, device, compression)
        for device, compression in (("v2", "default"), ("v2", "off"), ("v1", "default"))
        for kind in models
    ]
    with (
        adb_server(bundled_adb()) as server,
        standin_subprocess(server, work / "phone_v2") as v2,
        standin_subprocess(server, work / "phone_v1", "--features", V1_FEATURES) as v1,
    ):
        os.environ["ANDROID_ADB_SERVER_PORT"] = str(server.port)
        serials = {"v2": v2, "v1": v1}
        for index in range(args.rounds):
            for row in rows:
                run_round(row, models[row.kind], serials[row.device], server, index % 2 == 1)
        print_table(rows, args.rounds, args.size_mb)
        artifact_push(server.client().device(v2), models["compressible"], size)


def artifact_push(device: Any, payload: Path, size: int) -> None:
    """The product path: push + device-side hash check, then the repeat that sends nothing."""
    from controller.agent_client import Artifact
    from controller.transports.adb import AdbTransport

    transport = AdbTransport(device)
    client = transport.connect()
    sent: list[int] = []
    start = time.perf_counter()
    artifact = Artifact.from_file(payload)
    transport.push_artifact(client, artifact, lambda done, total: sent.append(done))
    first = time.perf_counter() - start
    print(
        f"\nartifact push (compressible model) incl. sha256 on both sides: "
        f"{size / first / 1e6:.0f} MB/s ({first:.2f} s)"
    )
    sent.clear()
    start = time.perf_counter()
    transport.push_artifact(client, artifact, lambda done, total: sent.append(done))
    repeat = time.perf_counter() - start
    pushed = sent[-1] if sent else 0
    print(f"repeat push of the unchanged artifact: {pushed} bytes in {repeat * 1000:.1f} ms")
    transport.close()


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--burst-mode", action="store_true", help="server with ADB_BURST_MODE=1")
    args = parser.parse_args()
    if args.burst_mode:
        os.environ["ADB_BURST_MODE"] = "1"  # read by the adb server this script starts
    os.environ.setdefault("DEVICELAB_HOME", tempfile.mkdtemp(prefix="devicelab-bench-"))
    with tempfile.TemporaryDirectory() as tmp:
        bench(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
