"""Every ``DEVICELAB_*`` environment setting of the controller, in one table.

rq's ``defaults.py`` is the model (https://github.com/rq/rq/blob/master/rq/defaults.py):
one place lists each setting with its default and what it means, so a reader
finds all the knobs in one file and the README's list is generated from it
(``scripts/gen_settings_doc.py``; ``tests/test_settings.py`` keeps it current and
checks that no other module of ``controller/`` reads a ``DEVICELAB_`` variable).

The accessors read the environment at call time, never at import: tests patch
the environment per test, and scripts set ``DEVICELAB_HOME`` after importing
``controller``. An empty value counts as unset. A value that does not parse is
a ``UserError`` naming the variable and the value::

    DEVICELAB_AGENT_SILENCE_S='abc': expected seconds (a number >= 0)

Seconds end in ``_S`` (no ``_SEC`` name was ever read from the environment, so
no alias is kept). The agent's own few settings live in ``agent/settings.py``
(the agent never imports the controller); the phone stand-in's
(``DEVICELAB_STANDIN_*`` and the adb binary's) are test infrastructure and stay in
``phone_standin/``.
"""

from __future__ import annotations

import getpass
import os
import platform
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from controller.errors import UserError

Kind = Literal["path", "seconds", "int", "number", "bool", "choice", "str", "words"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_EXPECTED = {
    "path": "a path",
    "seconds": "seconds (a number >= 0)",
    "int": "an integer",
    "number": "a number",
    "bool": "1 or 0 (true/false, yes/no, on/off)",
    "words": "shell words (balanced quotes)",
}


@dataclass(frozen=True)
class Setting:
    """One environment variable: its type, its default and what it sets.

    ``default`` is the text a user would write; ``""`` means unset, and then
    ``unset`` says what happens instead (a value computed at call time, or nothing).
    """

    name: str
    kind: Kind
    default: str
    meaning: str
    unset: str = ""
    choices: tuple[str, ...] = ()


#: Every controller-side setting, grouped as the README lists them.
SETTINGS: tuple[Setting, ...] = (
    # --- where state lives, who and where we are
    Setting("DEVICELAB_HOME", "path", "~/.devicelab",
            "folder of this host's state: store, logs, runtimes, caches"),
    Setting("DEVICELAB_STORE", "str", "",
            "the job store: a `postgresql://` URL (a lab's shared store) or a folder",
            unset="`$DEVICELAB_HOME/store`"),
    Setting("DEVICELAB_USER", "str", "",
            "who submits jobs from this process (the store serves submitters in turn)",
            unset="the OS user"),
    Setting("DEVICELAB_HOST", "str", "",
            "this host's name in a lab of many (whose devices its worker publishes)",
            unset="the machine's network name"),
    Setting("DEVICELAB_WEB_URL", "str", "",
            "base URL of a lab page served elsewhere; jobs' `url` links there",
            unset="the page `devicelab serve` announced"),
    # --- the worker
    Setting("DEVICELAB_WORKER", "choice", "",
            "who runs submitted jobs: `daemon` starts one on submit, `inprocess` a thread of "
            "this process, `none` nothing (a lab runs `devicelab worker`)",
            unset="`daemon`",
            choices=("inprocess", "daemon", "none")),
    Setting("DEVICELAB_INPROCESS_WORKER", "choice", "",
            "deprecated: `1` means `DEVICELAB_WORKER=inprocess`, `0` means `none`",
            choices=("1", "0")),
    Setting("DEVICELAB_WORKER_IDLE_EXIT_S", "seconds", "300",
            "a worker daemon with no queued or running job exits after this long"),
    Setting("DEVICELAB_WORKER_STALE_S", "seconds", "30",
            "a host whose worker has not heartbeaten for this long is gone; its jobs move"),
    Setting("DEVICELAB_UNPLACED_TIMEOUT_S", "seconds", "3600",
            "a queued job no live host has a device for fails after this long"),
    Setting("DEVICELAB_RUNTIME_PYTHON", "path", "",
            "the interpreter the worker daemon, compile jobs and the local agent run under",
            unset="this Python"),
    Setting("DEVICELAB_LOCAL_RUNTIME", "choice", "managed",
            "this host's agent: `managed` (devicelab's pinned runtime, as on a phone) or "
            "`current` (this interpreter's packages)",
            choices=("managed", "current")),
    Setting("DEVICELAB_SIMULATE", "bool", "0",
            "1: a job for an absent Snapdragon runs on its simulated twin "
            "(Qualcomm's HTP simulator)"),
    Setting("DEVICELAB_ONNX2TF", "path", "",
            "the onnx2tf executable TFLite compiles run",
            unset="`onnx2tf` on PATH, else beside this Python"),
    # --- a job's stream: liveness and deadlines
    Setting("DEVICELAB_AGENT_SILENCE_S", "seconds", "30",
            "a Profile stream with no event or heartbeat for this long fails the job"),
    Setting("DEVICELAB_LOAD_TIMEOUT_S", "seconds", "1800",
            "a model load (or warm-up) may last this long "
            "(QNN finalization of a big model takes minutes)"),
    Setting("DEVICELAB_STAGE_GRACE_S", "seconds", "120",
            "the timed loop may overrun `--max_profiler_time` by max(this, that time)"),
    Setting("DEVICELAB_MAX_START_TEMP_C", "number", "",
            "a job waits for its device to cool to this temperature before it starts",
            unset="never wait"),
    Setting("DEVICELAB_COOLDOWN_TIMEOUT_S", "seconds", "300",
            "the longest such a wait lasts"),
    # --- device health: retries, recovery, rest
    Setting("DEVICELAB_DEVICE_RETRIES", "int", "2",
            "times a job that failed for a device reason is queued again"),
    Setting("DEVICELAB_MAX_RECOVERIES", "int", "3",
            "failed recoveries before a device is offline or quarantined"),
    Setting("DEVICELAB_RECOVERY_INTERVAL_S", "seconds", "30",
            "seconds between two recoveries of a device"),
    Setting("DEVICELAB_RECOVERY_WAIT_S", "seconds", "60",
            "seconds a recovery step waits for the device to come back"),
    Setting("DEVICELAB_RECOVERY_REBOOT", "bool", "0",
            "1: a recovery may reboot the device (adb reboot)"),
    Setting("DEVICELAB_RECOVERY_HOOK", "str", "",
            "command run with the serial as last argument (power-cycle a USB hub port)"),
    Setting("DEVICELAB_HEALTH_CHECK_S", "seconds", "60",
            "seconds between battery/temperature readings of a phone"),
    Setting("DEVICELAB_REST_BATTERY_PCT", "number", "15",
            "a phone rests below this battery level"),
    Setting("DEVICELAB_RESUME_BATTERY_PCT", "number", "25",
            "a resting phone works again from this level"),
    Setting("DEVICELAB_REST_TEMP_C", "number", "65",
            "a phone rests above this temperature (hottest zone)"),
    Setting("DEVICELAB_RESUME_TEMP_C", "number", "55",
            "a resting phone works again at or below this"),
    # --- phones and boards over adb
    Setting("DEVICELAB_DEVICE_ROOT", "str", "/data/local/tmp/devicelab",
            "the device folder the agent and its runtime live in"),
    Setting("DEVICELAB_DEVICE_PYTHON", "str", "",
            "a Python 3.11+ on the device, with the agent's dependencies, instead of the runtime",
            unset="devicelab's device runtime"),
    Setting("DEVICELAB_DEVICE_RUNTIME_QNN", "bool", "0",
            "1: the device runtime also carries ONNX Runtime's QNN execution provider (the NPU)"),
    Setting("DEVICELAB_DEVICE_ENV", "words", "",
            "`NAME=value` words added to the agent's environment on the device "
            "(`QNN_SDK_ROOT=...`, `DEVICELAB_BENCHMARK_MODEL=...`)"),
)  # fmt: skip


_BY_NAME = {setting.name: setting for setting in SETTINGS}


def setting(name: str) -> Setting:
    """The table's entry for ``name``; a ``KeyError`` for a name not in it (our bug)."""
    return _BY_NAME[name]


def raw(name: str, env: Mapping[str, str] | None = None) -> str:
    """The value of ``name`` as set, stripped; the table's default when unset or empty."""
    value = (os.environ if env is None else env).get(name, "").strip()
    return value or setting(name).default


def _bad(name: str, value: str, kind: str) -> UserError:
    expected = _EXPECTED.get(kind) or f"one of {', '.join(setting(name).choices)}"
    return UserError(f"{name}={value!r}: expected {expected}")


def _checked(name: str, kind: Kind) -> Setting:
    entry = setting(name)
    if entry.kind != kind:
        raise TypeError(f"{name} is a {entry.kind} setting, read as {kind}")
    return entry


def seconds(name: str, env: Mapping[str, str] | None = None) -> float:
    """A ``_S`` setting in seconds (a number >= 0)."""
    _checked(name, "seconds")
    value = raw(name, env)
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:  # also refuses nan
        raise _bad(name, value, "seconds")
    return number


def integer(name: str, env: Mapping[str, str] | None = None) -> int:
    """An integer setting."""
    _checked(name, "int")
    value = raw(name, env)
    try:
        return int(value)
    except ValueError as exc:
        raise _bad(name, value, "int") from exc


def number(name: str, env: Mapping[str, str] | None = None) -> float | None:
    """A number setting (a temperature, a percentage); None when unset and no default."""
    _checked(name, "number")
    value = raw(name, env)
    if not value:
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise _bad(name, value, "number") from exc


def flag(name: str, env: Mapping[str, str] | None = None) -> bool:
    """A yes/no setting: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``."""
    _checked(name, "bool")
    value = raw(name, env)
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _bad(name, value, "bool")


def choice(name: str, env: Mapping[str, str] | None = None) -> str:
    """One of the setting's choices (case-insensitive); ``""`` when unset and no default."""
    entry = _checked(name, "choice")
    value = raw(name, env).lower()
    if value and value not in entry.choices:
        raise _bad(name, value, "choice")
    return value


def text(name: str, env: Mapping[str, str] | None = None) -> str:
    """A free-text setting; ``""`` when unset and no default."""
    _checked(name, "str")
    return raw(name, env)


def path_text(name: str, env: Mapping[str, str] | None = None) -> str:
    """A path setting as written, ``~`` expanded; ``""`` when unset and no default.

    Not normalised: ``./python`` names a file here, while ``str(Path("./python"))``
    would be ``python``, a name a subprocess looks up on PATH.
    """
    _checked(name, "path")
    return os.path.expanduser(raw(name, env))


def path(name: str, env: Mapping[str, str] | None = None) -> Path | None:
    """A path setting, ``~`` expanded; None when unset and no default."""
    value = path_text(name, env)
    return Path(value) if value else None


def words(name: str, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """A setting holding shell words (``A=1 'B=two words'``), split as a shell would."""
    _checked(name, "words")
    value = raw(name, env)
    try:
        return tuple(shlex.split(value))
    except ValueError as exc:  # unbalanced quotes
        raise _bad(name, value, "words") from exc


# --- the values with computed defaults (formerly controller/config.py) -----------------------


def home_dir() -> Path:
    """``DEVICELAB_HOME`` (default ``~/.devicelab``), created if missing."""
    home = path("DEVICELAB_HOME")
    assert home is not None  # the table has a default
    home.mkdir(parents=True, exist_ok=True)
    return home


def store_location() -> str | None:
    """``DEVICELAB_STORE``: a ``postgresql://`` URL or a store folder; None: the default
    folder, ``$DEVICELAB_HOME/store``."""
    return text("DEVICELAB_STORE") or None


def submitter() -> str:
    """Who submits jobs from this process (``DEVICELAB_USER``, else the OS user):
    the store serves submitters in turn."""
    configured = text("DEVICELAB_USER")
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"uid-{os.getuid()}"


def host_name() -> str:
    """This host's name in a lab of many (``DEVICELAB_HOST``, else the machine's network
    name): whose devices a worker publishes, whose device health a store reads."""
    return text("DEVICELAB_HOST") or platform.node() or "localhost"


def unplaced_timeout_s() -> float:
    """How long a queued job may wait while no live host has a device it asks for before
    it fails (``DEVICELAB_UNPLACED_TIMEOUT_S``, default 1 hour: a phone being re-plugged
    or a host rebooting comes back well within it)."""
    return seconds("DEVICELAB_UNPLACED_TIMEOUT_S")


# --- docs ---------------------------------------------------------------------------------

#: The README's generated block sits between these lines (``scripts/gen_settings_doc.py``).
DOC_BEGIN = (
    "<!-- settings: generated by scripts/gen_settings_doc.py from controller/settings.py -->"
)
DOC_END = "<!-- settings: end -->"


def _cell(default: str, unset: str) -> str:
    return f"`{default}`" if default else unset or "unset"


def render_markdown() -> str:
    """The README's settings tables: the controller's, then the agent's."""
    # The agent's table is read here, never the reverse: the agent never imports us.
    from agent import settings as agent_settings

    lines = ["| Variable | Type | Default | What it sets |", "| --- | --- | --- | --- |"]
    for entry in SETTINGS:
        kind = f"{entry.kind}: {' / '.join(entry.choices)}" if entry.choices else entry.kind
        default = _cell(entry.default, entry.unset)
        lines.append(f"| `{entry.name}` | {kind} | {default} | {entry.meaning} |")
    lines += [
        "",
        "The agent reads these (on a phone, set them through `DEVICELAB_DEVICE_ENV`):",
        "",
    ]
    lines += ["| Variable | Default | What it sets |", "| --- | --- | --- |"]
    for item in agent_settings.SETTINGS:
        default = _cell(item.default, item.unset)
        lines.append(f"| `{item.name}` | {default} | {item.meaning} |")
    return "\n".join([DOC_BEGIN, *lines, DOC_END]) + "\n"
