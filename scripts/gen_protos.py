"""Generate the Python gRPC code for protos/*.proto.

Run from anywhere: ``python scripts/gen_protos.py``. The output is committed so
that the agent can be deployed without grpcio-tools; ``--check`` regenerates
into a temporary directory and fails when the committed files are stale
(tests/test_protos.py runs it).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"


def generate(out_root: Path) -> list[Path]:
    """Run protoc on every .proto; return the generated files."""
    from grpc_tools import protoc  # dev-only dependency

    try:
        import grpc_tools

        include = str(Path(grpc_tools.__file__).parent / "_proto")
    except ImportError:  # pragma: no cover - grpc_tools always has it
        include = ""
    protos = sorted(p.relative_to(ROOT).as_posix() for p in PROTO_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out_root / "protos").glob("*_pb2*.py*"))


def stale_files() -> list[str]:
    """Names of committed generated files that differ from a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        stale = []
        for path in fresh:
            committed = PROTO_DIR / path.name
            if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                stale.append(path.name)
        return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    args = parser.parse_args()
    if args.check:
        stale = stale_files()
        if stale:
            print(f"stale generated files: {', '.join(stale)}; run scripts/gen_protos.py")
            return 1
        print("generated protos are up to date")
        return 0
    for path in generate(ROOT):
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
