"""The committed generated gRPC code matches protos/*.proto."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_agent_never_imports_controller() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "agent").rglob("*.py")
        if "import controller" in path.read_text() or "from controller" in path.read_text()
    ]
    assert offenders == []


def test_the_contract_imports_neither_side() -> None:
    """contract/ ships with the agent and is read by the controller: it stands alone."""
    side = re.compile(r"^\s*(from|import) (agent|controller)\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "contract").rglob("*.py")
        if side.search(path.read_text())
    ]
    assert offenders == []


def test_every_message_round_trips_on_the_installed_protobuf_runtime() -> None:
    from google.protobuf import __version__

    from protos import _runtime_guard, agent_pb2

    assert _runtime_guard.supported(__version__)
    for name, descriptor in agent_pb2.DESCRIPTOR.message_types_by_name.items():
        message = getattr(agent_pb2, name)()
        assert type(message).FromString(message.SerializeToString()) == message, descriptor


def test_the_runtime_guard_accepts_protobuf_5_26_to_7_and_refuses_the_rest() -> None:
    from protos._runtime_guard import supported

    assert [supported(v) for v in ("5.26.1", "6.31.1", "7.36.2", "7.99.0rc1")] == [True] * 4
    assert [supported(v) for v in ("4.25.3", "5.26.0", "8.0.0")] == [False] * 3
