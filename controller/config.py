"""Where devicelab keeps its state on the host.

``DEVICELAB_HOME`` overrides the default ``~/.devicelab``; tests point it at a
temporary directory so they never touch a user's state.
"""

from __future__ import annotations

import os
from pathlib import Path


def home_dir() -> Path:
    path = Path(os.environ.get("DEVICELAB_HOME", Path.home() / ".devicelab"))
    path.mkdir(parents=True, exist_ok=True)
    return path
