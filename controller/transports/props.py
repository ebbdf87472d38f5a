"""The device properties a transport reports: one flat ``Mapping[str, str]`` per device.

On Android these are ``getprop`` keys; Linux boards and the host add a few
file-named keys. ``controller/devices/`` reads them (profile matching, attributes,
the OS version); transports only produce them::

    ro.soc.manufacturer            "QTI" on Qualcomm (Android 12+)
    ro.soc.model                   "SM8550"
    ro.vendor.qti.soc_model        "SM8550"  (Qualcomm vendor property)
    ro.vendor.qti.soc_name         "cape"    (tells taro-platform siblings apart)
    ro.board.platform              "kalama"
    ro.hardware                    "qcom" on most builds, the platform on some
    ro.product.model               "SM-S911B"
    ro.product.manufacturer        "samsung"
    ro.product.cpu.abi             "arm64-v8a"
    ro.build.version.release       "14"
    /sys/devices/soc0/machine      "QCS6490" (Linux socinfo)
    /proc/device-tree/compatible   NUL-separated, most specific first
    platform.machine               "x86_64"  (the host, from platform.machine())
    os-release.ID / .VERSION_ID    "debian" / "12" (the host's /etc/os-release)
"""

from __future__ import annotations

import platform

SOC_MANUFACTURER_KEY = "ro.soc.manufacturer"
# Strongest evidence first: these name the exact SoC part.
SOC_MODEL_KEYS = ("ro.soc.model", "ro.vendor.qti.soc_model", "/sys/devices/soc0/machine")
# soc_name before board.platform: SM8475 and SM7475 report platform "taro" like
# SM8450, and only ro.vendor.qti.soc_name ("cape", "ukee") separates them.
PLATFORM_KEYS = ("ro.vendor.qti.soc_name", "ro.board.platform", "ro.hardware")
DT_COMPATIBLE_KEY = "/proc/device-tree/compatible"
PRODUCT_MODEL_KEY = "ro.product.model"
MANUFACTURER_KEY = "ro.product.manufacturer"
CPU_ABI_KEY = "ro.product.cpu.abi"
ANDROID_VERSION_KEY = "ro.build.version.release"
MACHINE_KEY = "platform.machine"
OS_RELEASE_ID_KEY = "os-release.ID"
OS_RELEASE_VERSION_KEY = "os-release.VERSION_ID"


def host_props() -> dict[str, str]:
    """The props of this host in the vocabulary above (the local transport's device).

    Example:
        >>> host_props()["platform.machine"] in ("x86_64", "aarch64", "AMD64", "arm64")
        True
    """
    props = {MACHINE_KEY: platform.machine()}
    try:
        release = platform.freedesktop_os_release()
    except OSError:  # not a Linux with /etc/os-release: no OS version to report
        return props
    props[OS_RELEASE_ID_KEY] = release.get("ID", "")
    props[OS_RELEASE_VERSION_KEY] = release.get("VERSION_ID", "")
    return props
