"""device_profiles/*.toml: every file loads, devices match, bad files are refused.

The last tests re-derive each profile's HTP facts from the QNN HTP simulator that
onnxruntime-qnn ships: a context binary compiled for a ``soc_model`` embeds the
SoC name, HTP arch, VTCM size and HVX thread count QNN itself uses for it.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from controller.devices.matching import match_profile
from controller.devices.profiles import (
    DeviceProfile,
    default_profiles_dir,
    load_profile,
    load_profiles,
)
from controller.errors import UserError
from controller.transports.props import DT_COMPATIBLE_KEY, host_props

REQUIRED_PARTS = {
    "SM8350",
    "SM8450",
    "SM8475",
    "SM8550",
    "SM8650",
    "SM8750",
    "SM7475",
    "QCS6490",
    "QCS8550",
    "x86_64",
}


@pytest.fixture(scope="module")
def profiles() -> list[DeviceProfile]:
    return load_profiles()


def by_part(profiles: list[DeviceProfile], part: str) -> DeviceProfile:
    return next(p for p in profiles if p.part_number == part)


# --- the shipped files -----------------------------------------------------------------


def test_every_shipped_profile_loads_and_validates(profiles: list[DeviceProfile]) -> None:
    files = sorted(default_profiles_dir().glob("*.toml"))
    assert [p.path for p in profiles] == files
    assert {p.part_number for p in profiles} >= REQUIRED_PARTS
    for profile in profiles:
        assert profile.sources, profile.path
        assert all(s.facts and s.where for s in profile.sources), profile.path


def test_every_npu_profile_has_the_facts_a_qnn_run_needs(profiles: list[DeviceProfile]) -> None:
    for profile in (p for p in profiles if p.has_npu):
        assert profile.htp_arch in (68, 69, 73, 75, 79), profile.path
        assert profile.vtcm_mb and profile.hvx_threads, profile.path
        assert profile.qnn_library_dirs and profile.dsp_library_dirs, profile.path


def test_known_facts_of_the_seed_examples(profiles: list[DeviceProfile]) -> None:
    gen2, gen3 = by_part(profiles, "SM8550"), by_part(profiles, "SM8650")
    assert (gen2.chipset, gen2.soc_model, gen2.hexagon, gen2.vtcm_mb) == (
        "qualcomm-snapdragon-8gen2",
        43,
        "v73",
        8,
    )
    assert (gen3.chipset, gen3.soc_model, gen3.hexagon) == ("qualcomm-snapdragon-8gen3", 57, "v75")
    assert "/data/local/tmp/devicelab/lib" in gen2.qnn_library_dirs


def test_host_profile_has_no_npu_but_the_simulator(profiles: list[DeviceProfile]) -> None:
    host = by_part(profiles, "x86_64")
    assert not host.has_npu and host.hexagon is None
    assert host.htp_simulator and host.format == "compute"


def test_phone_lookup_and_unverified_facts(profiles: list[DeviceProfile]) -> None:
    gen2 = by_part(profiles, "SM8550")
    phone = gen2.phone(" sm-s911b ")
    assert phone is not None and phone.name == "Samsung Galaxy S23"
    assert gen2.phone("SM-S921B") is None
    assert gen2.is_verified("htp.soc_model") and not gen2.is_verified("phones")
    assert not by_part(profiles, "SM8475").is_verified("htp.arch")


# --- matching --------------------------------------------------------------------------

QTI = {"ro.soc.manufacturer": "QTI", "ro.hardware": "qcom"}

MATCHES = {
    "Galaxy S23 (Android 14)": (
        QTI
        | {
            "ro.soc.model": "SM8550",
            "ro.board.platform": "kalama",
            "ro.product.model": "SM-S911B",
            "ro.product.manufacturer": "samsung",
        },
        "SM8550",
    ),
    "Galaxy S24 Ultra": (
        QTI | {"ro.soc.model": "SM8650", "ro.board.platform": "pineapple"},
        "SM8650",
    ),
    "Galaxy S24 (US)": (
        QTI | {"ro.soc.model": "SM8650", "ro.product.model": "SM-S921U"},
        "SM8650",
    ),
    "RedMagic 9 Pro (vendor build.prop)": (
        {
            "ro.product.vendor.model": "NX769J",
            "ro.board.platform": "pineapple",
            "ro.soc.manufacturer": "QTI",
            "ro.soc.model": "SM8650",
        },
        "SM8650",
    ),
    "Galaxy S25": (
        QTI | {"ro.soc.model": "SM8750", "ro.board.platform": "sun"},
        "SM8750",
    ),
    "Galaxy S22 Ultra": (
        QTI | {"ro.soc.model": "SM8450", "ro.board.platform": "taro"},
        "SM8450",
    ),
    "Galaxy Z Fold4 (taro platform, cape soc_name)": (
        QTI
        | {
            "ro.soc.model": "SM8475",
            "ro.board.platform": "taro",
            "ro.vendor.qti.soc_name": "cape",
        },
        "SM8475",
    ),
    "SM8475 without ro.soc.model": (
        {"ro.board.platform": "taro", "ro.vendor.qti.soc_name": "cape"},
        "SM8475",
    ),
    "POCO F5": (
        QTI
        | {
            "ro.soc.model": "SM7475",
            "ro.board.platform": "taro",
            "ro.product.model": "23049PCD8G",
        },
        "SM7475",
    ),
    "Galaxy S21 on Android 11 (no ro.soc.*)": (
        {"ro.board.platform": "lahaina", "ro.product.model": "SM-G991U"},
        "SM8350",
    ),
    "only a known product model": ({"ro.product.model": "SM-S911U"}, "SM8550"),
    "bin suffix and lower case": (QTI | {"ro.soc.model": "sm8550-ab"}, "SM8550"),
    "vendor soc_model property only": ({"ro.vendor.qti.soc_model": "SM8450"}, "SM8450"),
    "RB3 Gen 2 on Linux (device tree)": (
        {
            DT_COMPATIBLE_KEY: "qcom,qcs6490-rb3gen2\x00qcom,qcm6490\x00",
            "platform.machine": "aarch64",
        },
        "QCS6490",
    ),
    "QCS6490 via socinfo": ({"/sys/devices/soc0/machine": "QCS6490\n"}, "QCS6490"),
    "QCS8550 board lists qcom,sm8550 last": (
        {
            DT_COMPATIBLE_KEY: "qcom,qcs8550-aim300-aiot\x00qcom,qcs8550-aim300\x00"
            "qcom,qcs8550\x00qcom,sm8550\x00"
        },
        "QCS8550",
    ),
    "SM8550 device tree, newline-joined": (
        {DT_COMPATIBLE_KEY: "qcom,sm8550-mtp\nqcom,sm8550"},
        "SM8550",
    ),
    "this host": ({"platform.machine": "x86_64", "os-release.ID": "debian"}, "x86_64"),
}


@pytest.mark.parametrize("case", list(MATCHES))
def test_devices_match_their_soc(case: str, profiles: list[DeviceProfile]) -> None:
    props, part = MATCHES[case]
    profile = match_profile(props, profiles)
    assert profile is not None and profile.part_number == part


NO_MATCH = {
    "no props": {},
    "Galaxy S24 (Europe, Exynos 2400)": {
        "ro.soc.manufacturer": "Samsung",
        "ro.soc.model": "s5e9945",
        "ro.product.model": "SM-S921B",
    },
    "Exynos even with a Snapdragon product code": {
        "ro.soc.manufacturer": "Samsung",
        "ro.product.model": "SM-S928B",
    },
    "MediaTek": {"ro.soc.manufacturer": "Mediatek", "ro.soc.model": "MT6989"},
    "Pixel (Tensor)": {"ro.soc.manufacturer": "Google", "ro.soc.model": "Tensor G3"},
    # SM8635 (8s Gen 3) shares "pineapple" with SM8650 but has a v73 HTP.
    "POCO F6 (SM8635 on pineapple)": QTI
    | {"ro.soc.model": "SM8635", "ro.board.platform": "pineapple"},
    "unknown platform": {"ro.board.platform": "parrot"},
    "unknown product": {"ro.product.model": "Pixel 8"},
    "arm64 Linux without a device tree": {"platform.machine": "aarch64"},
}


@pytest.mark.parametrize("case", list(NO_MATCH))
def test_unknown_devices_match_nothing(case: str, profiles: list[DeviceProfile]) -> None:
    assert match_profile(NO_MATCH[case], profiles) is None


def test_host_props_describe_this_machine(profiles: list[DeviceProfile]) -> None:
    props = host_props()
    assert props["platform.machine"]
    if props["platform.machine"] in ("x86_64", "AMD64"):
        profile = match_profile(props, profiles)
        assert profile is not None and profile.part_number == "x86_64"


# --- malformed profiles ----------------------------------------------------------------

GOOD = (default_profiles_dir() / "snapdragon-8-gen-2.toml").read_text(encoding="utf-8")

BAD = {
    "soc_model a string": (("soc_model = 43", 'soc_model = "43"'), "htp.soc_model"),
    "soc_model a bool": (("soc_model = 43", "soc_model = true"), "htp.soc_model"),
    "negative vtcm": (("vtcm_mb = 8", "vtcm_mb = -8"), "htp.vtcm_mb"),
    "fp16 missing": (("fp16 = true\n", ""), "htp.fp16"),
    "chipset missing": (('chipset = "qualcomm-snapdragon-8gen2"\n', ""), "chipset"),
    "unknown format": (('format = "phone"', 'format = "watch"'), "format"),
    "misspelt field": (('part_number = "SM8550"', 'part_numbr = "SM8550"'), "part_numbr"),
    "unknown fact": (
        ('unverified = ["htp.weight_sharing"', 'unverified = ["htp.vtcm"'),
        "unverified",
    ),
    "models not a list": (
        ('models = ["2210132C", "2210132G"]', 'models = "2210132C"'),
        "phones[3].models",
    ),
    "schema from the future": (("schema_version = 1", "schema_version = 2"), "schema_version"),
    "dt_compatible not a list": (
        ('dt_compatible = ["qcom,sm8550"]', 'dt_compatible = "qcom,sm8550"'),
        "identify.dt_compatible",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_profile_names_file_and_field(case: str, tmp_path: Path) -> None:
    (old, new), field = BAD[case]
    assert old in GOOD
    path = tmp_path / "my-soc.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(UserError) as info:
        load_profiles(tmp_path)
    assert str(path) in str(info.value)
    assert f"'{field}'" in str(info.value)


def test_profile_without_sources_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bare.toml"
    path.write_text(GOOD[: GOOD.index("\n[[sources]]")], encoding="utf-8")
    with pytest.raises(UserError, match=r"bare\.toml: field 'sources'"):
        load_profile(path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "unterminated\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"broken\.toml: not valid TOML"):
        load_profiles(tmp_path)


def test_two_profiles_claiming_one_identifier_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD, encoding="utf-8")
    clone = GOOD.replace('chipset = "qualcomm-snapdragon-8gen2"', 'chipset = "my-clone"')
    clone = clone.replace('chipset_aliases = ["sm8550"]', "chipset_aliases = []")
    (tmp_path / "b.toml").write_text(clone, encoding="utf-8")
    with pytest.raises(UserError) as info:
        load_profiles(tmp_path)
    message = str(info.value)
    assert "b.toml" in message and "a.toml" in message and "identify.soc_models" in message


def test_missing_directory_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_profiles(tmp_path / "nope")


def test_a_user_added_profile_is_matched(tmp_path: Path) -> None:
    mine = GOOD.replace('part_number = "SM8550"', 'part_number = "SM9999"')
    mine = mine.replace('soc_models = ["SM8550"]', 'soc_models = ["SM9999"]')
    (tmp_path / "mine.toml").write_text(mine, encoding="utf-8")
    (profile,) = load_profiles(tmp_path)
    assert match_profile({"ro.soc.model": "SM9999"}, [profile]) is profile


# --- the facts, re-derived from QNN's HTP simulator ------------------------------------

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def qnn(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, list[object], Path]:
    """onnxruntime with the QNN EP plugin registered, and a folder with two tiny models."""
    ort = pytest.importorskip("onnxruntime")
    onnxruntime_qnn = pytest.importorskip("onnxruntime_qnn")
    # Registering twice fails; if another test module registered it, its devices serve us too.
    with contextlib.suppress(Exception):
        ort.register_execution_provider_library(
            "QNNExecutionProvider", onnxruntime_qnn.get_library_path()
        )
    devices = [d for d in ort.get_ep_devices() if d.ep_name == "QNNExecutionProvider"]
    if not devices:
        pytest.skip("onnxruntime-qnn registered no QNN EP device")
    folder = tmp_path_factory.mktemp("qnn")
    _write_add_models(folder)
    return ort, devices, folder


def _write_add_models(folder: Path) -> None:
    """y = x + x in float (add.onnx) and quantized QDQ form (add_qdq.onnx)."""
    onnx = pytest.importorskip("onnx")
    helper, tensor = onnx.helper, onnx.TensorProto
    io = (
        [helper.make_tensor_value_info("x", tensor.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", tensor.FLOAT, [1, 4])],
    )
    add = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "add", *io)
    qdq_nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
        helper.make_node("Add", ["xd", "xd"], ["sum"]),
        helper.make_node("QuantizeLinear", ["sum", "s", "z"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "s", "z"], ["y"]),
    ]
    scale = helper.make_tensor("s", tensor.FLOAT, [], [0.1])
    zero = helper.make_tensor("z", tensor.UINT8, [], [128])
    qdq = helper.make_graph(qdq_nodes, "add_qdq", *io, initializer=[scale, zero])
    for graph, name in ((add, "add.onnx"), (qdq, "add_qdq.onnx")):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 9
        onnx.save(model, str(folder / name))


def _simulator_soc_config(qnn: tuple, soc_model: int) -> dict[str, str]:
    """Compile the QDQ model to a QNN context binary and read the SoC config it embeds."""
    ort, devices, folder = qnn
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("ep.context_enable", "1")
    options.add_session_config_entry("ep.context_embed_mode", "0")
    options.add_session_config_entry("ep.context_file_path", str(folder / f"s{soc_model}.onnx"))
    options.add_provider_for_devices(devices, {"backend_type": "htp", "soc_model": str(soc_model)})
    ort.InferenceSession(str(folder / "add_qdq.onnx"), options)
    (binary,) = folder.glob(f"s{soc_model}*.bin")
    text = binary.read_bytes().decode("latin-1")
    return dict(re.findall(r"(?:^|;)(soc_type|arch|vtcm_size|hvx_threads)=([^;]*)", text))


def _simulator_runs_fp16(qnn: tuple, soc_model: int) -> bool:
    """Whether QNN places a float Add on the HTP with fp16 precision for this SoC."""
    ort, devices, folder = qnn
    options = ort.SessionOptions()
    options.log_severity_level = 4
    # Without CPU fallback, a node QNN refuses fails the session instead of moving to the CPU.
    options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    provider = {
        "backend_type": "htp",
        "soc_model": str(soc_model),
        "enable_htp_fp16_precision": "1",
    }
    options.add_provider_for_devices(devices, provider)
    try:
        ort.InferenceSession(str(folder / "add.onnx"), options)
    except Exception:  # ORT raises its own Fail type; any failure means "not on the HTP"
        return False
    return True


NPU_PARTS = sorted(REQUIRED_PARTS - {"x86_64"})


@pytest.mark.parametrize("part", NPU_PARTS)
def test_htp_facts_agree_with_the_qnn_simulator(part: str, qnn: tuple) -> None:
    profile = by_part(load_profiles(), part)
    assert profile.soc_model is not None and profile.vtcm_mb is not None
    config = _simulator_soc_config(qnn, profile.soc_model)
    assert config["soc_type"] == profile.part_number
    assert int(config["vtcm_size"]) == profile.vtcm_mb * MIB
    assert int(config["hvx_threads"]) == profile.hvx_threads
    # SM8475 and SM7475: the simulator says 68 where other sources say 69 (marked unverified).
    if profile.is_verified("htp.arch"):
        assert int(config["arch"]) == profile.htp_arch
    assert _simulator_runs_fp16(qnn, profile.soc_model) == profile.htp_fp16
