"""A simulated SoC's transport: a view of the host's local transport and its one agent.

Simulated SoCs are devices of this host (``controller/devices/simulated.py`` says
which and why); they are derived from the ``local`` device, not discovered, so this
transport has no discovery of its own.
"""

from __future__ import annotations

from typing import Any

from controller.agent_client import AgentClient, Artifact, ProgressCallback
from controller.transports.base import Transport


class SimulatedTransport:
    """One simulated SoC's view of the host's shared local transport (and agent)."""

    def __init__(self, serial: str, host: Transport) -> None:
        self.serial = serial
        self._host = host

    def connect(self) -> AgentClient:
        return self._host.connect()

    def close(self) -> None:
        """Nothing of its own: the ``local`` device owns (and stops) the shared agent."""

    def recover_agent(self) -> None:
        """The shared agent: ping it, replaced if it does not answer."""
        self._host.recover_agent()  # type: ignore[attr-defined]

    def push_artifact(
        self, client: AgentClient, artifact: Artifact, progress: ProgressCallback | None = None
    ) -> str:
        return self._host.push_artifact(client, artifact, progress)

    def health(self) -> dict[str, Any]:
        return self._host.health()

    def describe(self) -> dict[str, Any]:
        return {**self._host.describe(), "simulated": True}
