"""The agent's own ``DEVICELAB_*`` environment settings, in one table.

The agent never imports the controller, so it keeps this small table of its own
beside the controller's (``controller/settings.py``); the README's settings list
is generated from both. On a phone these reach the agent through the
controller's ``DEVICELAB_DEVICE_ENV`` (or, for the token, from the transport).
Variables of other tools the agent honours (``QNN_SDK_ROOT``, ``LD_LIBRARY_PATH``)
are theirs, not ours, and are not listed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from contract.handshake import TOKEN_ENV


@dataclass(frozen=True)
class Setting:
    """One environment variable the agent reads: its default and what it sets."""

    name: str
    default: str
    meaning: str
    unset: str = ""


#: Every setting the agent reads.
SETTINGS: tuple[Setting, ...] = (
    Setting(TOKEN_ENV, "",
            "the session token a controller's transport hands the agent (never on argv)",
            unset="no authentication"),
    Setting("DEVICELAB_BENCHMARK_MODEL", "",
            "TensorFlow Lite's `benchmark_model` on the device (a phone's GPU/NPU through TFLite)",
            unset="looked for in the job's library dirs"),
)  # fmt: skip

_BY_NAME = {setting.name: setting for setting in SETTINGS}


def text(name: str) -> str:
    """The value of ``name``, stripped; its default when unset or empty.

    Read at call time: a test or the device environment may set it after import.
    """
    return os.environ.get(name, "").strip() or _BY_NAME[name].default
