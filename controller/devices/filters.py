"""The ``get_devices(name, os, attributes)`` filter, as the cloud client documents it.

- ``name`` is an exact match (or a family: ``name_matches``);
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
from collections.abc import Iterable

from controller.errors import UserError

_VERSION = re.compile(r"\d+(\.\d+)*")
_INTERVAL = re.compile(r"\[([^,]*),([^,]*)\)")


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
    # The cloud client accepts one attribute as a plain string; "" means none.
    if isinstance(attributes, str):
        return [attributes] if attributes.strip() else []
    return list(attributes)
