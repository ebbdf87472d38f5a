"""Devices: what users name in a job, and how we reach the ones that match.

One job per module:

- ``device.py``: ``Device``, the cloud service's target representation, and ``selects``;
- ``entry.py``: ``DeviceEntry``, a reachable device with its profile and transport;
- ``registry.py``: ``DeviceRegistry``, the reachable devices, listed from every
  transport kind (``controller/transports/kinds.py``);
- ``profiles.py``: the SoC profiles of ``device_profiles/*.toml`` (schema, loading);
- ``matching.py``: which profile a device's properties match;
- ``attributes.py``: a device's ``key:value`` attributes, as AI Hub spells them;
- ``filters.py``: the ``get_devices(name, os, attributes)`` filter;
- ``simulated.py``: every SoC with an HTP as a simulated device of this host.

The property vocabulary transports report is ``controller/transports/props.py``'s.
"""

from __future__ import annotations

from controller.devices.device import LOCAL_DEVICE_NAME, Device, selects
from controller.devices.entry import DeviceEntry
from controller.devices.registry import DeviceRegistry

__all__ = ["LOCAL_DEVICE_NAME", "Device", "DeviceEntry", "DeviceRegistry", "selects"]
