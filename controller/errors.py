"""Exceptions raised by the devicelab API (the cloud service's names).

    Error
    ├── UserError       something in the user's input caused the failure
    └── InternalError   our failure (agent crashed, protocol mismatch, bug)
        └── DeviceError the device or its link failed (agent lost, adb gone, push
                        failed): the job is queued again for a device that is well

Third-party and agent errors are mapped into these at the boundary, chained
with ``raise ... from exc`` so the original stays visible.
"""

from __future__ import annotations


class Error(Exception):
    """Base class for all exceptions explicitly thrown by the API."""


class UserError(Error):
    """Something in the user input caused a failure; adjust the input."""


class InternalError(Error):
    """Internal failure of devicelab; please report it with the job id."""


class DeviceError(InternalError):
    """The device or the way to it failed, not the model: the agent was lost or went
    silent, adb lost the device, a push failed. A job that fails with it is queued
    again (``DEVICELAB_DEVICE_RETRIES``) and its device is checked before its next job.
    """
