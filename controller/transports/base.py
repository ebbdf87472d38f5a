"""The transport interface every way of reaching a device implements."""

from __future__ import annotations

from typing import Protocol

from controller.agent_client import AgentClient


class Transport(Protocol):
    #: Stable identity of the device (adb serial, or "local").
    serial: str

    def connect(self) -> AgentClient:
        """An ``AgentClient`` to a running, healthy agent; starts one if needed."""

    def close(self) -> None:
        """Stop what this transport started and release its resources."""
