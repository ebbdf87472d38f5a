"""Simulated Snapdragons, a user's day: the HTP simulator on this host as each SoC.

Real agent over real gRPC, real QNN HTP simulator (onnxruntime-qnn). The simulator
is slow (~0.2 s per inference of the 246-node CNN here), so jobs run 1-2 iterations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import controller as hub
from controller.cli import main
from controller.devices import DeviceEntry
from controller.devices.profiles import load_profiles
from controller.devices.simulated import SIMULATE_ENV
from controller.errors import UserError
from controller.transports.local import LocalTransport
from controller.transports.simulated import SimulatedTransport

JOB_TIMEOUT_SEC = 240
SM8550_SIM = "Snapdragon 8 Gen 2 (simulated)"
NPU_FAST = "--compute_unit npu --max_profiler_iterations 2"


@pytest.fixture(autouse=True)
def _no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test opts in itself; ``--simulate`` sets the variable, restored after."""
    monkeypatch.setenv(SIMULATE_ENV, "0")


def profile_on(model: Path, device: hub.Device, options: str = NPU_FAST) -> dict[str, Any]:
    job = hub.submit_profile_job(model, device, options=options)
    assert isinstance(job, hub.ProfileJob)
    status = job.wait(timeout=JOB_TIMEOUT_SEC)
    assert status.success, status.message
    return job.download_profile()


def units(result: dict[str, Any]) -> set[str]:
    return {entry["compute_unit"] for entry in result["execution_detail"]}


def write_resnet_like_onnx(path: Path, blocks: int = 40, channels: int = 8) -> Path:
    """A ResNet-shaped fp32 image CNN: stem, ``blocks`` residual blocks, head (6*blocks+6 nodes).

    Small tensors (1x3x16x16) keep the simulator at ~0.2 s per inference.
    """
    rng = np.random.default_rng(0)
    inits: list[onnx.TensorProto] = []

    def weight(name: str, shape: tuple[int, ...]) -> str:
        fan_in = int(np.prod(shape[1:])) or 1
        values = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
        inits.append(numpy_helper.from_array(values, name))
        return name

    def conv(name: str, x: str, shape: tuple[int, ...], **attrs: Any) -> onnx.NodeProto:
        inputs = [x, weight(f"{name}_w", shape), weight(f"{name}_b", (shape[0],))]
        return helper.make_node("Conv", inputs, [name], name=name, **attrs)

    c, pad = channels, [1, 1, 1, 1]
    nodes = [conv("stem", "image", (c, 3, 3, 3), pads=pad)]
    nodes.append(helper.make_node("Relu", ["stem"], ["b0"], name="stem_relu"))
    x = "b0"
    for i in range(blocks):
        p = f"blk{i}_"
        nodes += [
            conv(p + "conv", x, (c, c, 3, 3), pads=pad),
            helper.make_node("Relu", [p + "conv"], [p + "r1"], name=p + "r1"),
            conv(p + "dw", p + "r1", (c, 1, 3, 3), pads=pad, group=c),
            conv(p + "pw", p + "dw", (c, c, 1, 1)),
            helper.make_node("Add", [x, p + "pw"], [p + "add"], name=p + "add"),
            helper.make_node("Relu", [p + "add"], [p + "out"], name=p + "out"),
        ]
        x = p + "out"
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node(
            "Gemm",
            ["flat", weight("fc_w", (10, c)), weight("fc_b", (10,))],
            ["logits"],
            name="fc",
            transB=1,
        ),  # fmt: skip
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "resnet_like",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def resnet_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_resnet_like_onnx(tmp_path_factory.mktemp("sim") / "resnet_like.onnx")


# --- listing and choosing ---------------------------------------------------------------


def test_devices_lists_every_soc_as_a_simulated_device(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--json"]) == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    npu_socs = [p for p in load_profiles() if p.has_npu and not p.htp_simulator]
    assert {f"{p.name} (simulated)" for p in npu_socs} <= set(listed)
    sm8550 = listed[SM8550_SIM]
    assert sm8550["serial"] == "sim:SM8550"
    assert {"simulated:true", "htp-simulator:true", "os:linux", "format:compute"} <= set(
        sm8550["attributes"]
    )
    assert {"chipset:sm8550", "hexagon:v73", "soc-model:43"} <= set(sm8550["attributes"])
    assert "os:android" not in sm8550["attributes"]


def test_a_chipset_filter_never_picks_a_simulator_unless_asked() -> None:
    assert hub.get_devices(attributes="chipset:sm8550") == []  # no phone attached
    asked = hub.get_devices(attributes=["chipset:sm8550", "simulated:true"])
    assert [d.name for d in asked] == [SM8550_SIM]


def test_without_opt_in_a_missing_phone_is_a_user_error_naming_the_twin(
    models_dir: Path,
) -> None:
    with pytest.raises(UserError, match=r"DEVICELAB_SIMULATE=1.*Snapdragon 8 Gen 2 \(simulated\)"):
        hub.submit_profile_job(models_dir / "tiny_cnn.onnx", hub.Device("Samsung Galaxy S23"))


def test_a_real_phone_gets_no_simulator_facts() -> None:
    profile = next(p for p in load_profiles() if p.part_number == "SM8550")
    phone = DeviceEntry("R5CT", "Samsung Galaxy S23", "14", {}, profile, LocalTransport())
    transport = SimulatedTransport("sim:SM8550", phone.transport)
    sim = DeviceEntry("sim:SM8550", SM8550_SIM, "", {}, profile, transport, simulated=True)
    assert "vtcm_mb" not in phone.facts() and phone.facts()["library_dirs"]
    assert phone.facts()["htp_fp16"] == "true"
    assert sim.facts() == {
        "soc_model": 43, "htp_arch": 73, "htp_fp16": "true", "vtcm_mb": 8, "library_dirs": [],
    }  # fmt: skip


# --- running ------------------------------------------------------------------------------


def test_qdq_sample_runs_on_the_simulated_npu_as_that_soc(models_dir: Path) -> None:
    result = profile_on(models_dir / "tiny_cnn_qdq.onnx", hub.Device(SM8550_SIM))
    extra = result["devicelab"]
    assert "NPU" in units(result)
    assert extra["simulated"] is True
    assert extra["simulation"]["part_number"] == "SM8550"
    assert extra["device"] == "sim:SM8550"
    settings = extra["applied"]["settings"]
    assert (settings["qnn.soc_model"], settings["qnn.htp_arch"]) == ("43", "73")
    assert "warnings" not in extra


def test_fp32_sample_runs_in_fp16_on_the_simulated_npu(models_dir: Path) -> None:
    result = profile_on(models_dir / "tiny_cnn.onnx", hub.Device(SM8550_SIM))
    assert units(result) == {"NPU"}
    settings = result["devicelab"]["applied"]["settings"]
    assert settings["qnn.enable_htp_fp16_precision"] == "1"
    assert settings["qnn.vtcm_mb"] == "8"


def test_a_resnet_like_fp32_cnn_runs_wholly_on_the_simulated_npu(resnet_like: Path) -> None:
    result = profile_on(
        resnet_like,
        hub.Device(SM8550_SIM),
        "--compute_unit npu --max_profiler_iterations 1",
    )
    assert units(result) == {"NPU"}
    assert len(result["execution_detail"]) > 200
    # Cycles are the simulator's own per-op counts; ops it fused into another (a Relu
    # into its Conv) report none: 169 of 250 rows had cycles here.
    with_cycles = [e for e in result["execution_detail"] if e.get("execution_cycles")]
    assert len(with_cycles) > len(result["execution_detail"]) // 2


def test_ci_script_with_simulate_runs_the_phone_on_its_twin(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIMULATE_ENV, "1")
    job = hub.submit_profile_job(
        models_dir / "tiny_cnn_qdq.onnx", hub.Device("Samsung Galaxy S23"), options=NPU_FAST
    )
    assert isinstance(job, hub.ProfileJob)
    assert job.wait(timeout=JOB_TIMEOUT_SEC).success
    extra = job.download_profile()["devicelab"]
    assert extra["simulated"] is True and extra["device"] == "sim:SM8550"
    assert extra["simulation"]["stands_in_for"]["name"] == "Samsung Galaxy S23"


def test_cli_simulate_flag_prints_that_the_device_was_simulated(
    models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["profile", str(models_dir / "tiny_cnn_qdq.onnx"), "--quiet", "--simulate"]
    assert main([*args, "--device", "Samsung Galaxy S23", "--options", NPU_FAST]) == 0
    out = capsys.readouterr().out
    assert out.startswith("*** SIMULATED: Snapdragon 8 Gen 2 (SM8550)")
    assert "standing in for 'Samsung Galaxy S23'" in out and "NOT a phone's" in out


def test_npu_asked_but_nothing_on_it_is_loud(
    resnet_like: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # QCS6490's v68 HTP has no fp16: an fp32 graph cannot run on it, all of it goes to the CPU.
    out_json = tmp_path / "r.json"
    args = ["profile", str(resnet_like), "--quiet", "--device", "QCS6490 (simulated)"]
    assert main([*args, "--options", NPU_FAST, "--json", str(out_json)]) == 0
    extra = json.loads(out_json.read_text())["devicelab"]
    assert extra["layers_per_compute_unit"].keys() == {"CPU"}
    assert any(w.startswith("NPU NOT USED") for w in extra["warnings"])
    assert any("htp-supports-fp16:false" in w for w in extra["applied"]["warnings"])
    assert "*** NPU NOT USED: --compute_unit npu was asked" in capsys.readouterr().out
