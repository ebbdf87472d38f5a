"""Device attributes and the ``get_devices`` filter, in the cloud service's terms.

A device is described to users the way the seed service describes its own:
a ``name``, an ``os`` version string and a list of ``key:value`` attributes
(``os:android``, ``format:phone``, ``vendor:samsung``,
``chipset:qualcomm-snapdragon-8gen2``, ``chipset:sm8550``, ``hexagon:v73``,
``soc-model:43``, ``htp-supports-fp16:true``, ``framework:qnn``...). Attribute
names and values follow what AI Hub's ``get_devices()`` returns; chipsets carry
both the marketing slug and the part-number alias, as AI Hub's do.

``matches`` holds the filter semantics of ``get_devices(name, os, attributes)``
as the seed client documents them:

- ``name`` is an exact match;
- ``os`` is empty, an exact version (``"13"`` matches ``13`` and ``13.0`` but not
  ``13.1``: AI Hub says a specific version "must be an exact match"), or a
  right-open interval ``"[12,13)"`` with either side optionally empty
  (``"[12,)"``, ``"[,13)"``); the client rejects other interval forms, and so
  do we;
- every requested attribute must be present (one string or a list);
- an ``os`` without a name or attributes is refused, as the client refuses it.

Versions compare numerically by dot-separated components.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from controller.device_profiles import (
    OS_RELEASE_VERSION_KEY,
    PRODUCT_MODEL_KEY,
    DeviceProfile,
)
from controller.errors import UserError

ANDROID_VERSION_KEY = "ro.build.version.release"
MANUFACTURER_KEY = "ro.product.manufacturer"
CPU_ABI_KEY = "ro.product.cpu.abi"
# The frameworks AI Hub names in ``framework:`` attributes.
KNOWN_FRAMEWORKS = ("onnx", "qnn", "tflite")

_VERSION = re.compile(r"\d+(\.\d+)*")
_INTERVAL = re.compile(r"\[([^,]*),([^,]*)\)")


# --- attributes ------------------------------------------------------------------------


def device_attributes(
    props: Mapping[str, str], profile: DeviceProfile | None, frameworks: Iterable[str]
) -> list[str]:
    """The sorted attributes of a device with these props, SoC profile and frameworks.

    ``frameworks`` are the runtimes the agent reports usable (``tflite``, ``onnx``,
    ``qnn``). A device without a profile gets no chipset or NPU attributes.

    Example:
        >>> from controller.device_profiles import load_profiles, match_profile
        >>> props = {"ro.soc.model": "SM8550", "ro.product.manufacturer": "samsung",
        ...          "ro.product.model": "SM-S911B", "ro.build.version.release": "14",
        ...          "ro.product.cpu.abi": "arm64-v8a"}
        >>> device_attributes(props, match_profile(props, load_profiles()), ["tflite"])
        ... # doctest: +NORMALIZE_WHITESPACE
        ['abi:aarch64-android', 'chipset:qualcomm-snapdragon-8gen2', 'chipset:sm8550',
         'format:phone', 'framework:tflite', 'hexagon:v73', 'htp-supports-fp16:true',
         'htp-supports-weight-sharing:true', 'os:android', 'soc-model:43', 'vendor:samsung']
    """
    android = is_android(props)
    attrs = {f"os:{'android' if android else 'linux'}", f"format:{_format(props, profile)}"}
    attrs.update(_vendor_and_abi(props))
    if profile is not None:
        attrs.update(_chipset_attributes(props, profile))
        attrs.update(_htp_attributes(profile))
    attrs.update(f"framework:{name.strip().lower()}" for name in frameworks if name.strip())
    return sorted(attrs)


def is_android(props: Mapping[str, str]) -> bool:
    """Android devices report ``ro.*`` properties; Linux boards and the host do not."""
    return any(key.startswith("ro.") for key in props)


def os_version(props: Mapping[str, str]) -> str:
    """The ``os`` string of a device: Android's release, or os-release VERSION_ID on Linux.

    Example:
        >>> os_version({"ro.build.version.release": "14"})
        '14'
    """
    key = ANDROID_VERSION_KEY if is_android(props) else OS_RELEASE_VERSION_KEY
    return props.get(key, "").strip()


def _format(props: Mapping[str, str], profile: DeviceProfile | None) -> str:
    if profile is None:
        # Unknown SoC: most Android devices in a lab are phones; Linux targets are boards.
        return "phone" if is_android(props) else "iot"
    phone = profile.phone(props.get(PRODUCT_MODEL_KEY, ""))
    return (phone.format if phone else None) or profile.format


def _vendor_and_abi(props: Mapping[str, str]) -> set[str]:
    attrs = set()
    # AI Hub spells vendors lower case: "vendor:samsung", "vendor:oneplus".
    vendor = "-".join(props.get(MANUFACTURER_KEY, "").lower().split())
    if vendor:
        attrs.add(f"vendor:{vendor}")
    if props.get(CPU_ABI_KEY, "").strip() == "arm64-v8a":
        attrs.add("abi:aarch64-android")
    return attrs


def _chipset_attributes(props: Mapping[str, str], profile: DeviceProfile) -> set[str]:
    # A product may carry a differently named bin (Galaxy S25: ...-8-elite-for-galaxy).
    phone = profile.phone(props.get(PRODUCT_MODEL_KEY, ""))
    if phone is not None and phone.chipset:
        names = (phone.chipset, *phone.chipset_aliases)
    else:
        names = (profile.chipset, *profile.chipset_aliases)
    return {f"chipset:{name}" for name in names}


def _htp_attributes(profile: DeviceProfile) -> set[str]:
    attrs = set()
    if profile.has_npu:
        attrs.add(f"hexagon:{profile.hexagon}")
        attrs.add(f"soc-model:{profile.soc_model}")
        attrs.add(f"htp-supports-fp16:{str(profile.htp_fp16).lower()}")
    if profile.htp_weight_sharing is not None:
        attrs.add(f"htp-supports-weight-sharing:{str(profile.htp_weight_sharing).lower()}")
    if profile.htp_simulator:
        # Ours, not AI Hub's: the QNN HTP backend runs here, simulated on the CPU.
        attrs.add("htp-simulator:true")
    return attrs


# --- the get_devices filter ------------------------------------------------------------


def matches(
    device_name: str,
    device_os: str,
    device_attrs: Iterable[str],
    *,
    name: str = "",
    os: str = "",
    attributes: str | Iterable[str] = (),
) -> bool:
    """Whether a device passes a ``get_devices(name, os, attributes)`` filter.

    Raises ``UserError`` for a malformed filter (see the module docstring).

    Example:
        >>> attrs = ["os:android", "chipset:qualcomm-snapdragon-8gen2"]
        >>> matches("Samsung Galaxy S23", "13", attrs, os="[12,14)", attributes="os:android")
        True
        >>> matches("Samsung Galaxy S23", "14", attrs, name="Samsung Galaxy S23", os="[12,14)")
        False
    """
    wanted = _attribute_list(attributes)
    validate_filter(name, os, wanted)
    return (
        (not name or name_matches(device_name, name))
        and os_matches(device_os, os)
        and set(wanted) <= set(device_attrs)
    )


FAMILY_SUFFIX = " (Family)"


def name_matches(device_name: str, wanted: str) -> bool:
    """Exact, or a family: AI Hub's "Samsung Galaxy S25 (Family)" (qai-hub-models' default
    export device) names the S25, S25+ and S25 Ultra alike.

    Example:
        >>> [name_matches(n, "Samsung Galaxy S25 (Family)") for n in
        ...  ("Samsung Galaxy S25", "Samsung Galaxy S25 Ultra", "Samsung Galaxy S24")]
        [True, True, False]
    """
    if device_name == wanted:
        return True
    if not wanted.endswith(FAMILY_SUFFIX):
        return False
    base = wanted[: -len(FAMILY_SUFFIX)]
    rest = device_name[len(base) :]
    return device_name.startswith(base) and (rest == "" or rest[0] in " +")


def validate_filter(name: str, os: str, attributes: str | Iterable[str] = ()) -> None:
    """Refuse a filter the cloud client refuses: an OS alone, or a malformed OS.

    Example:
        >>> validate_filter("", "[12,13)", "os:android")
    """
    if not name and os and not _attribute_list(attributes):
        raise UserError(
            "Cannot filter devices when provided only an OS version. "
            "Please provide a device name and/or attributes."
        )
    os_matches("", os)  # parses the OS filter, raising UserError if it is malformed


def os_matches(device_os: str, spec: str) -> bool:
    """Whether OS version ``device_os`` satisfies ``spec`` (empty, exact, or ``[lo,hi)``).

    A device version that is not numeric (a preview's code name) matches only an
    empty ``spec``.

    Example:
        >>> [os_matches(v, "[12,13)") for v in ("11.9", "12", "12.1", "13")]
        [False, True, True, False]
    """
    spec = spec.strip()
    if not spec:
        return True
    version = _parse_version(device_os)
    if spec[0] in "[(" or spec[-1] in ")]":
        low, high = _parse_interval(spec)
        return (
            version is not None
            and (low is None or version >= low)
            and (high is None or version < high)
        )
    wanted = _parse_version(spec)
    if wanted is None:
        raise UserError(f"OS version {spec!r} is not a version like '14' or '15.2'")
    return version == wanted


def _parse_interval(spec: str) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    match = _INTERVAL.fullmatch(spec.replace(" ", ""))
    bounds = [b for b in match.groups() if b] if match else []
    if match is None or any(_parse_version(b) is None for b in bounds):
        raise UserError(
            f"Incorrectly formed OS interval {spec!r}: use a right-open interval "
            "like '[12,13)', '[12,)' or '[,13)'"
        )
    low, high = match.groups()
    return _parse_version(low), _parse_version(high)


def _parse_version(text: str) -> tuple[int, ...] | None:
    """``"13.0"`` -> ``(13,)``: trailing zeros dropped so 13 and 13.0 compare equal."""
    text = text.strip()
    if not _VERSION.fullmatch(text):
        return None
    parts = [int(part) for part in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _attribute_list(attributes: str | Iterable[str]) -> list[str]:
    # The seed accepts one attribute as a plain string; "" means none.
    if isinstance(attributes, str):
        return [attributes] if attributes.strip() else []
    return list(attributes)
