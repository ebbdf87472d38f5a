"""A device's health before a run, after waiting for it to cool down when asked to."""

from __future__ import annotations

import time
from typing import Any

from controller import settings as lab_settings
from controller.transports.base import Transport
from controller.transports.health import wait_until_cool


def health_before(transport: Transport) -> dict[str, Any]:
    """Health before the run; waits first while the device is hotter than configured.

    ``DEVICELAB_MAX_START_TEMP_C`` (unset: never wait) and
    ``DEVICELAB_COOLDOWN_TIMEOUT_S`` (default 300) configure the wait.
    """
    limit = lab_settings.number("DEVICELAB_MAX_START_TEMP_C")
    timeout = lab_settings.seconds("DEVICELAB_COOLDOWN_TIMEOUT_S")
    start = time.monotonic()
    health = wait_until_cool(transport.health, limit, timeout)
    health["cooldown_wait_s"] = round(time.monotonic() - start, 3)
    return health
