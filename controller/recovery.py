"""Bringing a suspect device back: the recovery ladder a worker climbs for it.

Each rung is tried only when the ones before it did not bring the agent back, and
each ends with the same test: the device is listed by adb and its agent answers
a ping (reattached, or restarted)::

    1. reconnect to the agent; restart it if it does not answer
    2. adb reconnect (for a network device: adb disconnect + connect), wait for it
    3. adb reboot, wait for the boot           only with DEVICELAB_RECOVERY_REBOOT=1
    4. DEVICELAB_RECOVERY_HOOK SERIAL, wait    e.g. power-cycle the device's USB hub port

This host and its simulated SoCs have rung 1 only. What each failed rung said is
the recovery's reason, stored with the device's state (``controller/device_states.py``).
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from controller.device_states import HealthSettings
from controller.devices import DeviceEntry, DeviceRegistry
from controller.errors import Error
from controller.transports.adb import AdbTransport, adb_reconnect

log = logging.getLogger("devicelab.recovery")

_POLL_S = 0.2
_BOOT_PROP = "sys.boot_completed"


@dataclass(frozen=True)
class RecoveryOutcome:
    ok: bool
    detail: str  # how it came back, or what every rung said
    listed: bool  # adb lists the device at the end (else: unplugged or never back)


def recover_device(
    registry: DeviceRegistry,
    serial: str,
    settings: HealthSettings,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> RecoveryOutcome:
    """Climb the ladder for ``serial`` until its agent answers; say how, or why not."""
    failures: list[str] = []

    def agent_back(entry: DeviceEntry | None, rung: str) -> bool:
        if entry is None:
            failures.append(f"{rung}: adb does not list the device")
            return False
        try:
            entry.transport.recover_agent()
        except Error as exc:
            failures.append(f"{rung}: {_short(exc)}")
            return False
        return True

    entry = registry.entry(serial)
    if agent_back(entry, "agent"):
        return RecoveryOutcome(True, "the agent answers (reconnected or restarted)", True)
    if entry is not None and not isinstance(entry.transport, AdbTransport):
        return RecoveryOutcome(False, "; ".join(failures), True)  # this host: nothing else

    entry = reconnect(registry, serial, settings.recovery_wait_s, failures)
    if agent_back(entry, "adb reconnect"):
        return RecoveryOutcome(True, "adb reconnect", True)

    rebooted = (
        settings.allow_reboot
        and entry is not None
        and _reboot(registry, entry, settings.recovery_wait_s, failures)
    )
    if rebooted and agent_back(registry.entry(serial), "reboot"):
        return RecoveryOutcome(True, "rebooted", True)

    if settings.recovery_hook:
        _run_hook(settings, serial, failures, run)
        entry = _wait_listed(registry, serial, settings.recovery_wait_s)
        if agent_back(entry, "recovery hook"):
            return RecoveryOutcome(True, f"recovery hook {settings.recovery_hook!r}", True)

    listed = registry.entry(serial) is not None
    return RecoveryOutcome(False, "; ".join(failures), listed)


def _short(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def reconnect(
    registry: DeviceRegistry, serial: str, wait_s: float, failures: list[str]
) -> DeviceEntry | None:
    """``adb reconnect``, again every second until adb lists the device or ``wait_s``
    passed (a network device that refused the first time may be back a moment later;
    the server itself no longer retries one it was told to disconnect)."""
    deadline = time.monotonic() + wait_s
    error = ""
    while True:
        try:
            adb_reconnect(serial)
        except Error as exc:
            error = _short(exc)
        entry = _wait_listed(registry, serial, min(1.0, max(0.0, deadline - time.monotonic())))
        if entry is not None or time.monotonic() >= deadline:
            break
    if entry is None and error:
        failures.append(f"adb reconnect: {error}")
    return entry


def _wait_listed(registry: DeviceRegistry, serial: str, wait_s: float) -> DeviceEntry | None:
    deadline = time.monotonic() + wait_s
    while True:
        entry = registry.entry(serial)
        if entry is not None or time.monotonic() >= deadline:
            return entry
        time.sleep(_POLL_S)


def _reboot(
    registry: DeviceRegistry, entry: DeviceEntry, wait_s: float, failures: list[str]
) -> bool:
    """``adb reboot``; True once the device is listed again with its boot completed."""
    transport = entry.transport
    assert isinstance(transport, AdbTransport)
    try:
        transport.reboot()
    except Error as exc:
        failures.append(f"reboot: {_short(exc)}")
        return False
    deadline = time.monotonic() + wait_s
    time.sleep(min(2.0, wait_s))  # it drops off the list first
    while True:
        current = registry.entry(entry.serial)
        if current is not None and isinstance(current.transport, AdbTransport):
            try:
                if current.transport.shell(f"getprop {_BOOT_PROP}", 5.0).strip() == "1":
                    return True
            except Error:
                pass
        if time.monotonic() >= deadline:
            break
        time.sleep(_POLL_S)
    failures.append(f"reboot: not back within {wait_s:g} s")
    return False


def _run_hook(
    settings: HealthSettings,
    serial: str,
    failures: list[str],
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    command = [*shlex.split(settings.recovery_hook), serial]
    log.info("[%s] recovery hook: %s", serial, shlex.join(command))
    try:
        done = run(
            command,
            env={**os.environ, "DEVICELAB_SERIAL": serial},
            capture_output=True,
            text=True,
            timeout=settings.recovery_wait_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        failures.append(f"recovery hook: {exc}")
        return
    if done.returncode != 0:
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:]
        failures.append(f"recovery hook exited {done.returncode}: {' '.join(tail)}".rstrip(": "))
