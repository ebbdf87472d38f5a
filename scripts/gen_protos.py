"""Generate the Python gRPC code for protos/*.proto.

Run from anywhere: ``python scripts/gen_protos.py``. The output is committed so
that the agent can be deployed without grpcio-tools; ``--check`` regenerates
into a temporary directory and fails when the committed files are stale
(tests/test_protos.py runs it).

protoc's runtime-version call in each ``_pb2.py`` is replaced by
``protos/_runtime_guard.py``'s check (protobuf 5.26 through 7.x; that module says why).
"""

from __future__ import annotations

import argparse
import filecmp
import re
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
    generated = sorted((out_root / "protos").glob("*_pb2*.py*"))
    for path in generated:
        if path.name.endswith("_pb2.py"):
            path.write_text(widen_runtime_check(path.read_text()))
    return generated


# protoc's call, e.g. "_runtime_version.ValidateProtobufRuntimeVersion(\n  ..., 7, 35, 1, '',
# 'protos/agent.proto'\n)"; the proto's location is kept for the error message.
_RUNTIME_CHECK = re.compile(
    r"_runtime_version\.ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,"
    r"\s*\d+,\s*\d+,\s*\d+,\s*'[^']*',\s*('[^']+')\s*\)"
)


_RUNTIME_IMPORT = "from google.protobuf import runtime_version as _runtime_version\n"


def widen_runtime_check(source: str) -> str:
    """Swap protoc's same-major runtime check for ``protos._runtime_guard.check`` (and drop
    its import: ``runtime_version`` is absent from protobuf 5.26)."""
    widened, count = _RUNTIME_CHECK.subn(
        r"from protos import _runtime_guard\n_runtime_guard.check(\1)", source
    )
    if count != 1 or _RUNTIME_IMPORT not in widened:
        raise SystemExit("protoc's runtime version check not found: update widen_runtime_check")
    return widened.replace(_RUNTIME_IMPORT, "")


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
