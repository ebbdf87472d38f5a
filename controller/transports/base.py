"""The transport interface every way of reaching a device implements."""

from __future__ import annotations

from typing import Any, Protocol

from controller.agent_client import AgentClient, Artifact, ProgressCallback


class Transport(Protocol):
    #: Stable identity of the device (adb serial, or "local").
    serial: str

    def connect(self) -> AgentClient:
        """An ``AgentClient`` to a running, healthy agent; starts one if needed."""

    def close(self) -> None:
        """Stop what this transport started and release its resources."""

    def recover_agent(self) -> None:
        """Make the agent answer again: reconnect, restart it if it does not answer
        (the first rung of ``controller/recovery.py``); raise ``Error`` if it stays away."""

    def push_artifact(
        self, client: AgentClient, artifact: Artifact, progress: ProgressCallback | None = None
    ) -> str:
        """Make ``artifact`` present on the device (by sha256); return the sha256."""

    def health(self) -> dict[str, Any]:
        """A device health snapshot (battery, temperatures, CPU clocks), best effort."""

    def describe(self) -> dict[str, Any]:
        """What the device is (arch, ABI, OS and build, kernel) and the Python the agent runs on."""
