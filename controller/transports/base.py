"""The transport interface: how a device is reached, and how its devices are found.

``Transport`` is one device's seam (start the agent, push, health). ``Discovery``
is one kind of transport's listing of the devices it reaches, as adbutils'
``AdbClient.list()`` is adb's: ``controller/devices/registry.py`` iterates over the
discoveries registered in ``controller/transports/__init__.py`` and never imports a
transport library itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from controller.agent_client import AgentClient, Artifact, ProgressCallback
from controller.errors import Error

log = logging.getLogger("devicelab.transport")


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


@dataclass
class FoundDevice:
    """A device a discovery reaches: its serial, its properties, the transport to it.

    ``props`` are in the vocabulary of ``controller/transports/props.py``.
    """

    serial: str
    props: dict[str, str]
    transport: Transport


class Discovery(Protocol):
    """One kind of transport as a source of devices."""

    #: The kind, as logs name it: "local", "adb".
    kind: str

    def list_serials(self) -> list[str] | None:
        """The serials reachable now, cheaply (no device is opened); ``None`` when the
        listing itself failed, so the caller keeps the devices it knows."""

    def open(self, serial: str) -> FoundDevice:
        """The transport to ``serial`` and the device's properties (one round trip).

        Raises:
            Error: the device was listed but cannot be read (e.g. it went away).
        """


def discover(discovery: Discovery) -> list[FoundDevice]:
    """Every device ``discovery`` reaches now, with its properties; devices that
    cannot be read are left out (logged), and a failed listing finds none."""
    found = []
    for serial in discovery.list_serials() or []:
        try:
            found.append(discovery.open(serial))
        except Error as exc:
            log.warning("[%s] %s device listed but not readable: %s", serial, discovery.kind, exc)
    return found
