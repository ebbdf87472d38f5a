"""System properties of the phone stand-in (test infrastructure) and the CNXN banner.

Props come from a flat JSON object (``{"ro.product.model": "Galaxy S24"}``)
layered over :data:`DEFAULT_PROPS`. Keys under ``standin.`` are the stand-in's
own knobs (battery, thermal, cpu), not Android properties, though ``getprop``
shows them too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

# A generic Snapdragon 8 Gen 3 phone, clearly labelled as the stand-in.
DEFAULT_PROPS: dict[str, str] = {
    "ro.product.name": "standin",
    "ro.product.model": "Phone Stand-in",
    "ro.product.device": "standin",
    "ro.product.brand": "devicelab",
    "ro.product.manufacturer": "devicelab",
    "ro.product.cpu.abi": "arm64-v8a",
    "ro.hardware": "qcom",
    "ro.board.platform": "pineapple",
    "ro.soc.manufacturer": "Qualcomm",
    "ro.soc.model": "SM8650",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
    "ro.build.type": "user",
    "ro.serialno": "standin0001",
    "sys.boot_completed": "1",
    "standin.battery.level": "85",
    "standin.battery.temperature": "290",  # tenths of a degree C, as dumpsys prints it
    "standin.thermal.type": "cpu-0-0-usr",
    "standin.thermal.temp": "35000",  # millidegrees C, as /sys/class/thermal prints it
    "standin.cpu.count": "8",
    "standin.cpu.governor": "schedutil",
    "standin.cpu.max_freq": "3302400",  # kHz, as cpufreq prints it
}

# What a current adbd advertises (AOSP packages/modules/adb transport.cpp,
# supported_features()), less what the stand-in does not implement: abb, abb_exec,
# apex, remount_shell, track_app, openscreen_mdns, devicetracker_proto_format.
# shell_v2 switches clients to v2 framing (exit codes), stat_v2 to STA2/LST2, ls_v2
# to LIS2, sendrecv_v2* to SND2/RCV2 with compression (adb push compresses by
# default then); cmd is backed by a `cmd` stub in system/bin; the fixed_push_*
# entries say the stand-in creates parents and keeps symlink times, as it does;
# delayed_ack replaces one-packet-in-flight with byte windows (streams.py), used
# only when the host offers it too (adb server 36+ started with ADB_BURST_MODE=1).
FEATURES: tuple[str, ...] = (
    "shell_v2",
    "cmd",
    "stat_v2",
    "ls_v2",
    "fixed_push_mkdir",
    "fixed_push_symlink_timestamp",
    "sendrecv_v2",
    "sendrecv_v2_brotli",
    "sendrecv_v2_lz4",
    "sendrecv_v2_zstd",
    "sendrecv_v2_dry_run_send",
    "delayed_ack",
)
# A phone before Android 11: no sync v2, so no compression (for tests of the v1 path).
FEATURES_BEFORE_V2: tuple[str, ...] = ("shell_v2", "cmd", "stat_v2")


def load_props_file(path: Path) -> dict[str, str]:
    """Read a props JSON file: one object of property name -> scalar value.

    Raises:
        ValueError: the file is not a JSON object of scalars (message names the file).
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read props JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: props must be a JSON object, got {type(raw).__name__}")
    return normalize_props(raw, source=str(path))


def normalize_props(raw: Mapping[str, object], source: str = "props") -> dict[str, str]:
    """Turn scalar values into getprop strings (booleans as ``true``/``false``)."""
    props: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            props[str(key)] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            props[str(key)] = str(value)
        else:
            raise ValueError(f"{source}: prop {key!r} must be a scalar, got {value!r}")
    return props


def build_props(overrides: Mapping[str, object], serial_name: str | None = None) -> dict[str, str]:
    """Defaults, then the user's props, then the serial name (if given) on top."""
    props = dict(DEFAULT_PROPS)
    props.update(normalize_props(overrides))
    if serial_name:
        props["ro.serialno"] = serial_name
        props["ro.boot.serialno"] = serial_name
    return props


def banner(props: Mapping[str, str], features: Iterable[str] = FEATURES) -> bytes:
    """The CNXN system-identity string the adb server parses for product/model/device."""
    fields = [f"{key}={props.get(key, '')}" for key in _BANNER_KEYS]
    fields.append("features=" + ",".join(features))
    return ("device::" + ";".join(fields)).encode("utf-8")


_BANNER_KEYS = ("ro.product.name", "ro.product.model", "ro.product.device")
