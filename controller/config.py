"""Where devicelab keeps its state on the host.

``DEVICELAB_HOME`` overrides the default ``~/.devicelab``; tests point it at a
temporary directory so they never touch a user's state.
"""

from __future__ import annotations

import getpass
import os
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
