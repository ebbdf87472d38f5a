"""Where devicelab keeps its state on the host.

``DEVICELAB_HOME`` overrides the default ``~/.devicelab``; tests point it at a
temporary directory so they never touch a user's state.
"""

from __future__ import annotations

import getpass
import os
import platform
from pathlib import Path


def home_dir() -> Path:
    path = Path(os.environ.get("DEVICELAB_HOME", Path.home() / ".devicelab"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_location() -> str | None:
    """``DEVICELAB_STORE``: a ``postgresql://`` URL or a store folder; None: the default
    folder, ``$DEVICELAB_HOME/store``."""
    return os.environ.get("DEVICELAB_STORE") or None


def submitter() -> str:
    """Who submits jobs from this process (``DEVICELAB_USER``, else the OS user):
    the store serves submitters in turn."""
    configured = os.environ.get("DEVICELAB_USER")
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"uid-{os.getuid()}"


def host_name() -> str:
    """This host's name in a lab of many (``DEVICELAB_HOST``, else the machine's network
    name): whose devices a worker publishes, whose device health a store reads."""
    return os.environ.get("DEVICELAB_HOST") or platform.node() or "localhost"


#: Default of ``DEVICELAB_UNPLACED_TIMEOUT_S``.
DEFAULT_UNPLACED_TIMEOUT_S = 3600.0


def unplaced_timeout_s() -> float:
    """How long a queued job may wait while no live host has a device it asks for before
    it fails (``DEVICELAB_UNPLACED_TIMEOUT_S``, default 1 hour: a phone being re-plugged
    or a host rebooting comes back well within it)."""
    return float(os.environ.get("DEVICELAB_UNPLACED_TIMEOUT_S", DEFAULT_UNPLACED_TIMEOUT_S))
