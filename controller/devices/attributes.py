"""Device attributes, in the cloud service's terms.

A device is described to users the way the cloud service describes its own:
a ``name``, an ``os`` version string and a list of ``key:value`` attributes
(``os:android``, ``format:phone``, ``vendor:samsung``,
``chipset:qualcomm-snapdragon-8gen2``, ``chipset:sm8550``, ``hexagon:v73``,
``soc-model:43``, ``htp-supports-fp16:true``, ``framework:qnn``...). Attribute
names and values follow what AI Hub's ``get_devices()`` returns; chipsets carry
both the marketing slug and the part-number alias, as AI Hub's do. How a filter
selects on them is :mod:`controller.devices.filters`'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controller.devices.profiles import DeviceProfile
from controller.transports.props import (
    ANDROID_VERSION_KEY,
    CPU_ABI_KEY,
    MANUFACTURER_KEY,
    OS_RELEASE_VERSION_KEY,
    PRODUCT_MODEL_KEY,
)


def device_attributes(
    props: Mapping[str, str], profile: DeviceProfile | None, frameworks: Iterable[str]
) -> list[str]:
    """The sorted attributes of a device with these props, SoC profile and frameworks.

    ``frameworks`` are the runtimes the agent reports usable (``tflite``, ``onnx``,
    ``qnn``). A device without a profile gets no chipset or NPU attributes.

    Example:
        >>> from controller.devices.matching import match_profile
        >>> from controller.devices.profiles import load_profiles
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
