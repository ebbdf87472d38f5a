"""What the agent and its controllers agree on outside the protos.

The controller imports these (it may import the agent; never the reverse), so
each fact is stated once.
"""

from __future__ import annotations

#: ``python -m agent serve`` prints ``DEVICELAB_AGENT_READY port=<port> pid=<pid>``
#: once it listens; transports wait for this line.
READY_LINE = "DEVICELAB_AGENT_READY"
#: gRPC metadata key carrying the per-session token.
TOKEN_METADATA_KEY = "x-devicelab-token"
#: Environment variable the agent reads its token from (never argv: visible in `ps`).
TOKEN_ENV = "DEVICELAB_AGENT_TOKEN"
#: Largest gRPC message either side sends or accepts (inference batches).
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def ready_line(port: int, pid: int) -> str:
    return f"{READY_LINE} port={port} pid={pid}"


def parse_ready_line(line: str) -> tuple[int, int] | None:
    """(port, pid) from the agent's ready line; None for any other line.

    Example:
        parse_ready_line("DEVICELAB_AGENT_READY port=5000 pid=42")  # (5000, 42)
    """
    if not line.startswith(READY_LINE):
        return None
    fields = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
    return int(fields["port"]), int(fields["pid"])
