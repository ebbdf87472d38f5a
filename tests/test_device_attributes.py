"""Device attributes derived from props + profile, and the get_devices filter semantics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.devices.attributes import device_attributes, is_android, os_version
from controller.devices.filters import matches, os_matches, validate_filter
from controller.devices.matching import match_profile
from controller.devices.profiles import DeviceProfile, load_profiles
from controller.errors import UserError


@pytest.fixture(scope="module")
def profiles() -> list[DeviceProfile]:
    return load_profiles()


def attributes_of(props: dict[str, str], profiles: list[DeviceProfile], *frameworks: str):
    return device_attributes(props, match_profile(props, profiles), frameworks)


GALAXY_S23 = {
    "ro.soc.manufacturer": "QTI",
    "ro.soc.model": "SM8550",
    "ro.board.platform": "kalama",
    "ro.product.manufacturer": "samsung",
    "ro.product.model": "SM-S911B",
    "ro.product.cpu.abi": "arm64-v8a",
    "ro.build.version.release": "14",
}


# --- attributes ------------------------------------------------------------------------


def test_galaxy_s23_gets_the_cloud_services_attributes(profiles: list[DeviceProfile]) -> None:
    assert attributes_of(GALAXY_S23, profiles, "tflite", "onnx", "qnn") == [
        "abi:aarch64-android",
        "chipset:qualcomm-snapdragon-8gen2",
        "chipset:sm8550",
        "format:phone",
        "framework:onnx",
        "framework:qnn",
        "framework:tflite",
        "hexagon:v73",
        "htp-supports-fp16:true",
        "htp-supports-weight-sharing:true",
        "os:android",
        "soc-model:43",
        "vendor:samsung",
    ]


def test_galaxy_s25_carries_the_for_galaxy_chipset(profiles: list[DeviceProfile]) -> None:
    props = GALAXY_S23 | {"ro.soc.model": "SM8750", "ro.product.model": "SM-S931B"}
    attrs = attributes_of(props, profiles)
    assert "chipset:qualcomm-snapdragon-8-elite-for-galaxy" in attrs
    assert "chipset:sm8750-ac" in attrs
    assert "chipset:qualcomm-snapdragon-8-elite" not in attrs
    assert {"hexagon:v79", "soc-model:69"} <= set(attrs)


def test_other_sm8750_devices_carry_the_plain_chipset(profiles: list[DeviceProfile]) -> None:
    props = {"ro.soc.model": "SM8750", "ro.product.manufacturer": "OnePlus"}
    attrs = attributes_of(props, profiles)
    assert {"chipset:qualcomm-snapdragon-8-elite", "chipset:sm8750", "vendor:oneplus"} <= set(attrs)


def test_a_tablet_is_format_tablet(profiles: list[DeviceProfile]) -> None:
    props = {"ro.soc.model": "SM8450", "ro.product.model": "SM-X700"}
    assert "format:tablet" in attributes_of(props, profiles)


def test_npu_without_fp16_says_so(profiles: list[DeviceProfile]) -> None:
    attrs = attributes_of({"ro.soc.model": "SM7475"}, profiles)
    assert "htp-supports-fp16:false" in attrs
    # Weight sharing is not known for this SoC: no attribute rather than a guess.
    assert not any(a.startswith("htp-supports-weight-sharing") for a in attrs)


def test_unknown_android_device_runs_on_cpu_without_soc_attributes(
    profiles: list[DeviceProfile],
) -> None:
    props = {
        "ro.soc.manufacturer": "Google",
        "ro.soc.model": "Tensor G3",
        "ro.product.manufacturer": "Google",
        "ro.build.version.release": "15",
    }
    assert attributes_of(props, profiles, "tflite") == [
        "format:phone",
        "framework:tflite",
        "os:android",
        "vendor:google",
    ]


def test_linux_board_is_iot(profiles: list[DeviceProfile]) -> None:
    props = {"/proc/device-tree/compatible": "qcom,qcs6490-rb3gen2\x00qcom,qcm6490"}
    assert attributes_of(props, profiles, "onnx") == [
        "chipset:qcs6490",
        "chipset:qualcomm-dragonwing-qcs6490",
        "chipset:qualcomm-qcs6490",
        "chipset:qualcomm-qcs6490-proxy",
        "format:iot",
        "framework:onnx",
        "hexagon:v68",
        "htp-supports-fp16:false",
        "os:linux",
        "soc-model:93",
    ]


def test_unknown_linux_board_is_iot(profiles: list[DeviceProfile]) -> None:
    assert attributes_of({"platform.machine": "aarch64"}, profiles) == ["format:iot", "os:linux"]


def test_this_host_is_a_compute_device_with_the_htp_simulator(
    profiles: list[DeviceProfile],
) -> None:
    props = {"platform.machine": "x86_64", "os-release.VERSION_ID": "12"}
    assert attributes_of(props, profiles, "onnx", "qnn", "tflite") == [
        "chipset:host-x86_64",
        "format:compute",
        "framework:onnx",
        "framework:qnn",
        "framework:tflite",
        "htp-simulator:true",
        "os:linux",
    ]


def test_frameworks_are_normalised_and_deduplicated() -> None:
    attrs = device_attributes({}, None, ["ONNX", " onnx ", "", "TFLite"])
    assert attrs == ["format:iot", "framework:onnx", "framework:tflite", "os:linux"]


def test_vendor_with_spaces_becomes_one_token() -> None:
    attrs = device_attributes({"ro.product.manufacturer": "HMD Global"}, None, [])
    assert "vendor:hmd-global" in attrs


def test_os_version_of_android_and_linux() -> None:
    assert os_version(GALAXY_S23) == "14"
    assert os_version({"platform.machine": "x86_64", "os-release.VERSION_ID": "12"}) == "12"
    assert os_version({"ro.product.model": "X"}) == ""
    assert is_android(GALAXY_S23) and not is_android({"platform.machine": "x86_64"})


# --- name / os / attributes filter ------------------------------------------------------

S23_ATTRS = ["os:android", "format:phone", "chipset:qualcomm-snapdragon-8gen2", "vendor:samsung"]


def s23(**filters: object) -> bool:
    return matches("Samsung Galaxy S23", "13", S23_ATTRS, **filters)  # type: ignore[arg-type]


def test_an_empty_filter_matches_every_device() -> None:
    assert s23()


def test_name_is_an_exact_match() -> None:
    assert s23(name="Samsung Galaxy S23")
    assert not s23(name="Samsung Galaxy S23 Ultra")
    assert not s23(name="Samsung Galaxy")
    assert not s23(name="samsung galaxy s23")


def test_attributes_may_be_one_string_or_a_list_and_all_must_be_present() -> None:
    assert s23(attributes="os:android")
    assert s23(attributes=["os:android", "vendor:samsung"])
    assert s23(attributes=("chipset:qualcomm-snapdragon-8gen2",))
    assert not s23(attributes=["os:android", "vendor:xiaomi"])
    assert not s23(attributes="chipset:qualcomm-snapdragon-8gen3")
    assert not s23(attributes="os")  # whole attributes only, not prefixes


@pytest.mark.parametrize(
    ("device_os", "spec", "expected"),
    [
        ("13", "13", True),
        ("13.0", "13", True),
        ("13", "13.0.0", True),
        ("13.1", "13", False),
        ("13", "13.1", False),
        ("15.2", "15.2", True),
        ("14", "13", False),
    ],
)
def test_an_exact_os_version_matches_that_version_only(
    device_os: str, spec: str, expected: bool
) -> None:
    assert os_matches(device_os, spec) is expected


@pytest.mark.parametrize(
    ("device_os", "spec", "expected"),
    [
        ("12", "[12,13)", True),  # the lower bound is included
        ("12.0.1", "[12,13)", True),
        ("12.9", "[12,13)", True),
        ("13", "[12,13)", False),  # the upper bound is excluded
        ("13.0", "[12,13)", False),
        ("11.9", "[12,13)", False),
        ("12.1", "[12.1,13)", True),
        ("12.0.9", "[12.1,13)", False),
        ("99", "[12,)", True),  # open on the right
        ("11", "[12,)", False),
        ("1.7", "[,13)", True),  # open on the left
        ("13", "[,13)", False),
        ("5", "[,)", True),
        ("13", "[ 12 , 14 )", True),  # blanks are ignored
        ("12", "[12,12)", False),  # an empty interval matches nothing
    ],
)
def test_os_interval_edges(device_os: str, spec: str, expected: bool) -> None:
    assert os_matches(device_os, spec) is expected


def test_a_device_os_that_is_not_a_version_only_matches_no_filter() -> None:
    assert os_matches("Baklava", "")
    assert not os_matches("Baklava", "16")
    assert not os_matches("", "[12,)")


@pytest.mark.parametrize(
    "spec",
    ["(12,13]", "[12,13]", "(12,13)", "[12,13", "12,13)", "[a,13)", "[12;13)", "[12,13,14)", "[]"],
)
def test_malformed_os_intervals_are_refused(spec: str) -> None:
    with pytest.raises(UserError, match="Incorrectly formed OS interval"):
        os_matches("12", spec)


def test_an_exact_os_that_is_not_a_version_is_refused() -> None:
    with pytest.raises(UserError, match="not a version"):
        os_matches("14", "Android 14")


def test_an_os_alone_is_refused_like_the_cloud_client() -> None:
    with pytest.raises(UserError, match="only an OS version"):
        s23(os="13")
    with pytest.raises(UserError, match="only an OS version"):
        validate_filter("", "[12,13)", "")
    assert s23(os="13", attributes="os:android")
    assert s23(os="[13,14)", name="Samsung Galaxy S23")


def test_all_three_filters_combine() -> None:
    assert s23(name="Samsung Galaxy S23", os="[12,14)", attributes=["os:android"])
    assert not s23(name="Samsung Galaxy S23", os="[14,)", attributes=["os:android"])


@given(
    low=st.integers(0, 30),
    width=st.integers(0, 5),
    version=st.lists(st.integers(0, 40), min_size=1, max_size=3),
)
def test_intervals_agree_with_numeric_tuple_order(low: int, width: int, version: list[int]) -> None:
    high = low + width
    device_os = ".".join(map(str, version))
    inside = (low,) <= tuple(version) < (high,)
    assert os_matches(device_os, f"[{low},{high})") is inside
