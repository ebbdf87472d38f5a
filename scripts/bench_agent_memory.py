"""The agent's peak memory while it receives a large artifact, against the artifact's size.

Starts the real agent on this host (the local transport), streams one artifact of
``--size-mb`` (default 1024) to it over gRPC, and prints the agent's peak RSS
(VmHWM) before and after, side by side with the artifact's size. The upload is
written to disk chunk by chunk (agent/artifacts.py), so the peak should stay
flat however large the model: a phone has little memory to spare.

    .venv/bin/python scripts/bench_agent_memory.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    os.environ.setdefault("DEVICELAB_HOME", tempfile.mkdtemp(prefix="devicelab-bench-"))
    from controller.agent_client import Artifact
    from controller.transports.local import LocalTransport

    with tempfile.TemporaryDirectory() as tmp:
        payload = Path(tmp) / "big_model.bin"
        with payload.open("wb") as out:
            for _ in range(args.size_mb):
                out.write(os.urandom(1 << 20))
        transport = LocalTransport(workdir=Path(tmp) / "agent")
        client = transport.connect()
        pid = transport._process.pid  # type: ignore[union-attr]
        before = _hwm_mb(pid)
        start = time.perf_counter()
        transport.push_artifact(client, Artifact.from_file(payload))
        seconds = time.perf_counter() - start
        after = _hwm_mb(pid)
        transport.close()
    size = args.size_mb * (1 << 20) / 1e6
    print(f"artifact {args.size_mb} MiB uploaded in {seconds:.1f} s ({size / seconds:.0f} MB/s)")
    print(f"agent peak RSS: {before:.0f} MiB before, {after:.0f} MiB after "
          f"(+{after - before:.0f} MiB for a {args.size_mb} MiB artifact)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
