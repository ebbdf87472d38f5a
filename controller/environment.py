"""What ran where, recorded in every result so a number can be reproduced.

The device (ABI, OS version and build fingerprint, kernel, SoC), the Python
the agent ran on (the device's own, or the bundled runtime with its id and
versions), the agent's code (its bundle's content hash) and the runtimes'
versions as the agent itself reports them.
"""

from __future__ import annotations

from typing import Any

from controller.agent_bundle import agent_bundle
from controller.agent_client import AgentClient
from controller.devices import DeviceEntry


def job_environment(entry: DeviceEntry, client: AgentClient) -> dict[str, Any]:
    """The ``devicelab.environment`` of a job run on ``entry`` through ``client``."""
    info = client.device_info(entry.library_dirs)
    device: dict[str, Any] = {"name": entry.name, "serial": entry.serial}
    if entry.profile is not None:
        device["soc"] = entry.profile.name
        device["soc_part_number"] = entry.profile.part_number
    device.update(entry.transport.describe())
    return {
        "device": device,
        "agent": {
            "version": info.agent_version,
            "bundle": agent_bundle().name,
            "python_version": info.python_version,
            "machine": info.machine,
            "kernel": info.os_release,
        },
        "runtimes": {r.name: r.version for r in info.runtimes if r.available},
    }
