"""The kinds of transport devices are listed from: a new kind is one line here.

``controller/devices/registry.py`` lists devices from every kind registered here,
in order; the kind's module (``local.py``, ``adb.py``) holds its ``Transport`` and
its ``Discovery`` (``base.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from controller.transports.adb import AdbDiscovery
from controller.transports.base import Discovery
from controller.transports.local import LocalDiscovery

#: Every kind of transport devices are listed from, in listing order (this host first).
DISCOVERIES: tuple[Callable[[], Discovery], ...] = (LocalDiscovery, AdbDiscovery)


def default_discoveries() -> list[Discovery]:
    """One discovery of each registered kind, configured from the settings."""
    return [make() for make in DISCOVERIES]
