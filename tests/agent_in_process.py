"""The real agent's gRPC server in this process, and a client talking to it over TCP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.server import build_server
from controller.agent_client import AgentClient


@contextmanager
def agent_client(workdir: Path) -> Iterator[AgentClient]:
    """An agent serving ``workdir`` on a free port (no process started ahead), and a
    client of it; both stopped on exit."""
    server, port = build_server(workdir, 0, start_ahead=False)
    client = AgentClient(f"127.0.0.1:{port}", device="local")
    try:
        yield client
    finally:
        client.close()
        server.stop(None)
