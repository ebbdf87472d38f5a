"""Planning: which devices each entry runs on, and the order of a session's blocks.

Blocks alternate A B B A A B ... (counterbalanced pairs): a device that warms up or
drifts through a session slows both arms alike, where plain A B A B would hand
every pair's later slot, and so a linear drift, to B.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.devices import Device
from controller.errors import UserError
from controller.regress.suite import Entry, Suite


@dataclass(frozen=True)
class Target:
    """One entry on one concrete device (named by its serial, so every block of a
    session runs on the same phone)."""

    entry: Entry
    serial: str
    device_name: str

    @property
    def device(self) -> Device:
        return Device(self.serial)

    @property
    def label(self) -> str:
        return f"{self.entry.name} @ {self.device_name}"


def pair_arms(pair_index: int) -> tuple[str, str]:
    """The order of a pair's two blocks: even pairs A then B, odd pairs B then A."""
    return ("A", "B") if pair_index % 2 == 0 else ("B", "A")


def targets(suite: Suite) -> list[Target]:
    """Every entry x device, devices resolved now (UserError when none matches)."""
    import controller as hub

    found: list[Target] = []
    for entry in suite.entries:
        devices: list[Device] = []
        for name in entry.devices:
            matched = hub.get_devices(name=name)
            if not matched:
                raise UserError(_no_device(entry, f"device {name!r}"))
            devices.append(matched[0])
        if entry.attributes:
            matched = hub.get_devices(attributes=list(entry.attributes))
            if not matched:
                raise UserError(_no_device(entry, f"attributes {list(entry.attributes)}"))
            devices += matched
        seen: set[str] = set()
        for device in devices:
            if device.serial not in seen:
                seen.add(device.serial)
                found.append(Target(entry, device.serial, device.name))
    return found


def _no_device(entry: Entry, what: str) -> str:
    import controller as hub

    reachable = ", ".join(f"{d.name} ({d.serial})" for d in hub.get_devices())
    return f"entry {entry.name!r}: no device matches {what}; reachable: {reachable}"
