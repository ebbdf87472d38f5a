"""The agent refuses calls without its per-session token (the real server, real gRPC)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.handshake import TOKEN_ENV, parse_ready_line
from controller.agent_client import AgentClient
from controller.errors import InternalError
from protos import agent_pb2 as pb

TOKEN = "s3cret-session-token"


@pytest.fixture()
def agent(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(port, pid) of a real agent started with TOKEN."""
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
        yield ready[0], process.pid
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture()
def agent_port(agent: tuple[int, int]) -> int:
    return agent[0]


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


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_large_call_without_the_token_is_refused_before_its_body_is_read(
    agent: tuple[int, int],
) -> None:
    """Any app on a phone can reach the agent's port: a token-less 200 MB request must
    not make the agent hold 200 MB (before: each one grew it by the message size)."""
    import numpy as np

    from contract import tensors

    port, pid = agent
    big = tensors.array_to_tensor("x", np.zeros(50 * 1024 * 1024, dtype=np.float32))
    request = pb.InferRequest(job_id="j", samples=[pb.Sample(tensors=[big])])
    before = _peak_rss_mb(pid)
    client = AgentClient(f"127.0.0.1:{port}", device="local", token="wrong")
    for _ in range(2):
        with pytest.raises(InternalError, match="UNAUTHENTICATED"):
            client.infer(request)
    client.close()
    assert _peak_rss_mb(pid) - before < 100, "the agent read a refused request's body"
