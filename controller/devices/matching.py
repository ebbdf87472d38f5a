"""Which SoC profile a device is: matched on the properties its transport reports.

Evidence is read strongest first (the property keys are
:mod:`controller.transports.props`'): the SoC part number, the device-tree
compatible list, the platform codename, the product model, and last the host's
machine name. A device that matches no profile is still usable on its CPU:
``match_profile`` returns ``None`` and callers skip the NPU facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from controller.devices.profiles import DeviceProfile, normalise_soc_model
from controller.transports.props import (
    DT_COMPATIBLE_KEY,
    MACHINE_KEY,
    PLATFORM_KEYS,
    PRODUCT_MODEL_KEY,
    SOC_MANUFACTURER_KEY,
    SOC_MODEL_KEYS,
)

# ro.soc.manufacturer values that mean Qualcomm ("QTI" is what ONNX Runtime's QNN EP checks).
_QUALCOMM_MANUFACTURERS = frozenset({"qti", "qualcomm", "qcom"})


# --- matching --------------------------------------------------------------------------


def match_profile(
    props: Mapping[str, str], profiles: Iterable[DeviceProfile]
) -> DeviceProfile | None:
    """The profile of the SoC the device ``props`` describe, or ``None`` if unknown.

    Evidence is read strongest first: the SoC part number (``ro.soc.model`` and
    friends), the device-tree compatible list, the platform codename, the product
    model, and last the host's machine name. A non-Qualcomm ``ro.soc.manufacturer``
    (an Exynos Galaxy) matches nothing.

    Example:
        >>> from controller.devices.profiles import load_profiles
        >>> profiles = load_profiles()
        >>> match_profile({"ro.soc.model": "SM8550", "ro.soc.manufacturer": "QTI"}, profiles).name
        'Snapdragon 8 Gen 2'
        >>> match_profile({"ro.soc.manufacturer": "Samsung", "ro.soc.model": "s5e9945"}, profiles)
    """
    profiles = list(profiles)
    manufacturer = props.get(SOC_MANUFACTURER_KEY, "").strip().lower()
    if manufacturer and manufacturer not in _QUALCOMM_MANUFACTURERS:
        return None
    soc_model = _first_value(props, SOC_MODEL_KEYS)
    if soc_model and (hit := _claimed_by(profiles, "soc_models", normalise_soc_model(soc_model))):
        return hit
    for compatible in _dt_compatible(props):
        if hit := _claimed_by(profiles, "dt_compatible", compatible):
            return hit
    if soc_model:
        # A part number we do not know must not fall back to the platform name:
        # siblings share it (SM8635 runs on "pineapple" like SM8650, with another HTP).
        return None
    return _match_weak(props, profiles)


def _match_weak(props: Mapping[str, str], profiles: list[DeviceProfile]) -> DeviceProfile | None:
    """Match on the platform codename, the product model, then the host machine name."""
    for key in PLATFORM_KEYS:
        if hit := _claimed_by(profiles, "platforms", props.get(key, "").strip().lower()):
            return hit
    product = props.get(PRODUCT_MODEL_KEY, "")
    if hit := next((p for p in profiles if product and p.phone(product)), None):
        return hit
    return _claimed_by(profiles, "machines", props.get(MACHINE_KEY, "").strip().lower())


def _claimed_by(profiles: list[DeviceProfile], field: str, value: str) -> DeviceProfile | None:
    """The profile whose ``identify.<field>`` lists ``value`` (uniqueness is checked at load)."""
    if not value:
        return None
    return next((p for p in profiles if value in getattr(p.identify, field)), None)


def _first_value(props: Mapping[str, str], keys: Iterable[str]) -> str:
    return next((props[k].strip() for k in keys if props.get(k, "").strip()), "")


def _dt_compatible(props: Mapping[str, str]) -> list[str]:
    # The kernel file is NUL-separated; transports may hand it over joined by newlines.
    raw = props.get(DT_COMPATIBLE_KEY, "")
    return [c.lower() for c in re.split(r"[\x00\s]+", raw) if c]
