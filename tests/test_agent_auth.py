"""The agent refuses calls without its per-session token (the real server, real gRPC)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.handshake import TOKEN_ENV, parse_ready_line
from controller.agent_client import AgentClient
from controller.errors import InternalError
from protos import agent_pb2 as pb

TOKEN = "s3cret-session-token"


@pytest.fixture()
def agent_port(tmp_path: Path) -> Iterator[int]:
    env = {**os.environ, TOKEN_ENV: TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve", "--port", "0", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        ready = parse_ready_line(line)
        assert ready is not None, line
        yield ready[0]
    finally:
        process.terminate()
        process.wait(10)


def test_right_token_is_served(agent_port: int) -> None:
    client = AgentClient(f"127.0.0.1:{agent_port}", device="local", token=TOKEN)
    assert client.ping().pid > 0
    client.close()


@pytest.mark.parametrize("token", ["", "wrong"])
def test_missing_or_wrong_token_is_refused(agent_port: int, token: str) -> None:
    client = AgentClient(f"127.0.0.1:{agent_port}", device="local", token=token)
    with pytest.raises(InternalError, match="UNAUTHENTICATED"):
        client.ping()
    with pytest.raises(InternalError, match="UNAUTHENTICATED"):  # a streaming call too
        list(client.profile(pb.ProfileRequest(job_id="j", artifact_sha256="0" * 64)))
    client.close()
