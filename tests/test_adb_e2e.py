"""End to end through adb: public API -> adbutils -> real adb server -> phone stand-in
-> the real agent (deployed as a bundle, started with nohup) -> real runtimes.

The stand-ins speak the ADB wire protocol to Debian's adb server and serve the
getprop values of a Galaxy S23 (8 Gen 2) and a Galaxy S24 (8 Gen 3).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import controller as hub
from controller.events import IterationTimes
from phone_standin.testing import (
    GALAXY_S23_PROPS,
    AdbServer,
    adb_server,
    connected_standin,
)
from tests.markers import needs_adb

pytestmark = [
    pytest.mark.adb,
    needs_adb,
]

S23_PROPS = GALAXY_S23_PROPS
S24_PROPS = {
    **S23_PROPS,
    "ro.product.model": "SM-S921U",
    "ro.product.name": "e1qsqw",
    "ro.soc.model": "SM8650",
    "ro.board.platform": "pineapple",
}
JOB_TIMEOUT_SEC = 180


@pytest.fixture(scope="module")
def adb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdbServer]:
    with adb_server() as server:
        yield server


@pytest.fixture(scope="module")
def phones(adb: AdbServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("phones")
    patch = pytest.MonkeyPatch()
    patch.setenv("ANDROID_ADB_SERVER_PORT", str(adb.port))
    with (
        connected_standin(adb, root / "s23", S23_PROPS) as s23,
        connected_standin(adb, root / "s24", S24_PROPS) as s24,
    ):
        yield {"s23": s23, "s24": s24}
    patch.undo()


def _profile(model: Path, device: hub.Device, options: str = "") -> hub.ProfileJob:
    job = hub.submit_profile_job(model, device, options=options)
    job.wait(timeout=JOB_TIMEOUT_SEC)
    return job


def test_two_phones_appear_with_their_attributes(phones: dict[str, Any]) -> None:
    devices = {d.name: d for d in hub.get_devices()}
    s23, s24 = devices["Samsung Galaxy S23"], devices["Samsung Galaxy S24"]
    assert s23.serial == phones["s23"].serial and s24.serial == phones["s24"].serial
    assert "chipset:qualcomm-snapdragon-8gen2" in s23.attributes
    assert "chipset:qualcomm-snapdragon-8gen3" in s24.attributes
    for device in (s23, s24):
        assert {"os:android", "format:phone", "vendor:samsung", "framework:onnx"} <= set(
            device.attributes
        )
    assert s23.os == "14"
    found = hub.get_devices(attributes=["chipset:qualcomm-snapdragon-8gen3"])
    assert [d.name for d in found] == ["Samsung Galaxy S24"]
    assert hub.get_devices(name="Samsung Galaxy S23", os="[13,15)")[0].serial == s23.serial


def test_cli_devices_lists_both_phones(
    phones: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from controller.cli import main

    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "Samsung Galaxy S23" in out and "Samsung Galaxy S24" in out
    assert phones["s23"].serial in out


def test_profile_on_each_phone_returns_layers(phones: dict[str, Any], models_dir: Path) -> None:
    for name in ("Samsung Galaxy S23", "Samsung Galaxy S24"):
        job = _profile(
            models_dir / "tiny_cnn.onnx",
            hub.Device(name),
            "--compute_unit cpu --max_profiler_iterations 5",
        )
        assert job.get_status().success, job.get_status().message
        result = job.download_profile()
        assert len(result["execution_summary"]["all_inference_times"]) == 5
        assert {e["compute_unit"] for e in result["execution_detail"]} == {"CPU"}
        assert result["devicelab"]["device"] == phones["s23" if "S23" in name else "s24"].serial
        health = result["devicelab"]["device_health"]
        assert "battery_level" in health["before"] and "battery_level" in health["after"]
        _assert_environment(result["devicelab"]["environment"], name)


def _assert_environment(environment: dict[str, Any], name: str) -> None:
    """What ran where: the stand-in is an x86_64 host reporting a phone's props, and its
    shell finds a Python that runs the agent, so no runtime is deployed."""
    import platform

    device = environment["device"]
    assert device["name"] == name and device["soc_part_number"] in ("SM8550", "SM8650")
    assert device["arch"] == platform.machine() and device["abi"] == "arm64-v8a"
    assert device["os"] == "android" and device["os_version"] == "14"
    assert device["kernel"] == platform.release()
    assert device["python"]["source"] == "device"
    agent = environment["agent"]
    assert agent["bundle"].startswith("agent-") and agent["machine"] == platform.machine()
    assert set(environment["runtimes"]) == {"litert", "onnxruntime"}


def test_second_profile_pushes_nothing(phones: dict[str, Any], models_dir: Path) -> None:
    model = models_dir / "tiny_cnn_qdq.onnx"
    pushes: list[list[int]] = []
    for _ in range(2):
        progress: list[int] = []
        job = hub.submit_profile_job(
            model,
            hub.Device("Samsung Galaxy S23"),
            options="--compute_unit cpu --max_profiler_iterations 2",
            upload_progress=lambda done, total, seen=progress: seen.append(done),
        )
        assert job.wait(timeout=JOB_TIMEOUT_SEC).success, job.get_status().message
        pushes.append(progress)
    first, second = pushes
    assert first and first[-1] == model.stat().st_size
    assert second == []  # the second run found the artifact on the device: 0 bytes


def test_corrupted_push_is_detected_by_hash(phones: dict[str, Any], models_dir: Path) -> None:
    """A file in incoming/ whose bytes do not hash to the claimed sha256 is refused."""
    from controller.agent_client import sha256_of

    s23 = phones["s23"]
    entry = hub.api.current_registry().resolve(hub.Device("Samsung Galaxy S23"))
    client = entry.transport.connect()
    model = models_dir / "tiny_cnn.tflite"
    incoming = s23.host_path("/data/local/tmp/devicelab/work/incoming/bad.part")
    data = bytearray(model.read_bytes())
    data[100] ^= 0xFF  # one flipped byte on the way
    Path(incoming).write_bytes(bytes(data))
    with pytest.raises(hub.UserError, match="corrupt"):
        client.adopt_artifact("bad.part", sha256_of(model), model.name)
    assert not Path(incoming).exists()  # the corrupt file is not kept


def test_killed_agent_fails_the_job_and_the_next_job_restarts_it(
    phones: dict[str, Any], models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVICELAB_DEVICE_RETRIES", "0")  # the failure itself, not its retry
    s24 = phones["s24"]
    device = hub.Device("Samsung Galaxy S24")
    seen_inference = []

    def kill_when_measuring(job: Any, event: Any) -> None:
        if isinstance(event, IterationTimes) and not seen_inference:
            seen_inference.append(True)
            s24.kill_processes()

    job = hub.submit_profile_job(
        models_dir / "mobilenet_like.tflite",
        device,
        options="--compute_unit cpu --max_profiler_iterations 100000 --max_profiler_time 20",
        listener=kill_when_measuring,
    )
    status = job.wait(timeout=JOB_TIMEOUT_SEC)
    assert status.failure
    assert "lost during the job" in status.message and s24.serial in status.message
    retry = _profile(models_dir / "tiny_cnn.onnx", device, "--max_profiler_iterations 3")
    assert retry.get_status().success, retry.get_status().message
    entry = hub.api.current_registry().resolve(device)
    assert entry.transport.restarts >= 1


def test_unplugged_mid_push_fails_cleanly_naming_the_device(
    adb: AdbServer,
    phones: dict[str, Any],
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEVICELAB_DEVICE_RETRIES", "0")  # the failure itself, not its retry
    s23 = phones["s23"]
    big = tmp_path / "big_model.tflite"  # a .tflite passes the host-side check on its identifier
    big.write_bytes(b"\0\0\0\0TFL3" + b"\1" * (64 << 20))
    unplugged: list[bool] = []

    reported: list[int] = []

    def unplug_halfway(done: int, total: int) -> None:
        reported.append(done)
        if done > total // 4 and not unplugged:
            unplugged.append(True)
            s23.unplug()

    try:
        job = hub.submit_profile_job(
            big, hub.Device("Samsung Galaxy S23"), upload_progress=unplug_halfway
        )
        status = job.wait(timeout=JOB_TIMEOUT_SEC)
    finally:
        s23.replug()
        adb.connect(s23.serial)  # do not wait for the server's own retry (2.5-5.5 s)
        adb.wait_for_state(s23.serial, {"device"}, 15.0)
    assert status.failure
    assert s23.serial in status.message and "push" in status.message, status.message
    assert max(reported) < big.stat().st_size  # the bar never said it all arrived


def test_hot_phone_is_waited_on_before_the_run(
    phones: dict[str, Any], models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s23 = phones["s23"]
    s23.set_prop("standin.thermal.temp", "52000")  # 52 °C in the stand-in's thermal zone
    monkeypatch.setenv("DEVICELAB_MAX_START_TEMP_C", "45")
    monkeypatch.setenv("DEVICELAB_COOLDOWN_TIMEOUT_S", "1")
    job = _profile(
        models_dir / "tiny_cnn.onnx",
        hub.Device("Samsung Galaxy S23"),
        "--compute_unit cpu --max_profiler_iterations 2",
    )
    s23.set_prop("standin.thermal.temp", "30000")
    before = job.download_profile()["devicelab"]["device_health"]["before"]
    assert before["max_temperature_c"] == pytest.approx(52.0)
    assert before["cooldown_wait_s"] >= 1.0  # waited, gave up after the timeout, then ran


def test_two_phones_run_jobs_in_parallel(phones: dict[str, Any], models_dir: Path) -> None:
    from controller.api import current_store

    options = "--compute_unit cpu --max_profiler_iterations 100000 --max_profiler_time 1.5"
    jobs = [
        hub.submit_profile_job(models_dir / "tiny_cnn.onnx", hub.Device(name), options=options)
        for name in ("Samsung Galaxy S23", "Samsung Galaxy S24")
    ]
    for job in jobs:
        assert job.wait(JOB_TIMEOUT_SEC).success, job.get_status().message
    records = [current_store().get_job(job.job_id) for job in jobs]
    assert {r.device_serial for r in records} == {phones["s23"].serial, phones["s24"].serial}
    assert max(r.started_at for r in records) < min(r.finished_at for r in records)


def test_compile_then_profile_on_the_phone(phones: dict[str, Any], models_dir: Path) -> None:
    compile_job, profile_job = hub.submit_compile_and_profile_jobs(
        models_dir / "tiny_cnn_qdq.onnx",
        hub.Device("Samsung Galaxy S23"),
        compile_options="--target_runtime qnn_context_binary",
        profile_options="--max_profiler_iterations 2",
    )
    assert profile_job.wait(JOB_TIMEOUT_SEC).success, profile_job.get_status().message
    result = profile_job.download_profile()
    target = compile_job.get_target_model()
    assert target is not None and result["devicelab"]["model_id"] == target.model_id
    assert {e["compute_unit"] for e in result["execution_detail"]} == {"NPU"}
    assert result["devicelab"]["device"] == phones["s23"].serial


def test_a_device_can_be_named_by_its_adb_serial(phones: dict[str, Any], models_dir: Path) -> None:
    serial = phones["s24"].serial
    job = _profile(
        models_dir / "tiny_cnn.onnx",
        hub.Device(serial),
        "--compute_unit cpu --max_profiler_iterations 2",
    )
    assert job.get_status().success, job.get_status().message
    assert job.download_profile()["devicelab"]["device"] == serial


def test_another_controller_listing_devices_does_not_disturb_a_running_job(
    adb: AdbServer, phones: dict[str, Any], models_dir: Path, tmp_path: Path
) -> None:
    """A second process attaches to the phone's running agent instead of replacing it."""
    import os
    import subprocess
    import sys

    job = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx",
        hub.Device("Samsung Galaxy S23"),
        options="--compute_unit cpu --max_profiler_iterations 100000000 --max_profiler_time 3",
    )
    while job.get_status().state is not hub.JobStatus.State.MEASURING_PERFORMANCE:
        assert not job.get_status().finished, job.get_status().message
    env = {
        **os.environ,
        "ANDROID_ADB_SERVER_PORT": str(adb.port),
        "DEVICELAB_HOME": str(tmp_path / "other-controller"),
    }
    listing = subprocess.run(
        [sys.executable, "-m", "controller.cli", "devices"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Samsung Galaxy S23" in listing.stdout, listing.stderr
    status = job.wait(JOB_TIMEOUT_SEC)
    assert status.success, status.message


def test_doctor_says_what_a_phone_can_do_and_exits_0(
    phones: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from controller.cli import main

    assert main(["doctor", phones["s23"].serial, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    checks = {c["check"]: c for c in report["checks"]}
    assert report["can_run_jobs"] and report["device"] == "Samsung Galaxy S23"
    assert checks["device root"]["status"] == "ok"
    assert checks["device tools"]["status"] == "ok"
    assert checks["os"]["value"].startswith("Android 14")
    assert checks["runtime onnxruntime"]["status"] == "ok"
    assert checks["npu (fastrpc)"]["status"] == "warn"  # no fastrpc on the stand-in
    assert "fix" in checks["npu (fastrpc)"] and checks["npu (fastrpc)"]["fix"]
    assert checks["npu/gpu tools"]["status"] == "warn"  # no QNN SDK pushed to the S23
    assert "DEVICELAB_DEVICE_ENV='QNN_SDK_ROOT=" in checks["npu/gpu tools"]["fix"]
    assert checks["thermal zones"]["status"] == "ok" and checks["battery"]["value"] == "85 %"


def test_doctor_fails_a_device_whose_root_cannot_hold_the_agent(
    phones: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from controller.cli import main

    monkeypatch.setenv("DEVICELAB_DEVICE_ROOT", "/proc/devicelab")
    assert main(["doctor", phones["s23"].serial]) == 1
    out = capsys.readouterr().out
    assert "fail  device root" in out and "fix: set DEVICELAB_DEVICE_ROOT" in out
    assert "cannot run jobs until fixed" in out


def test_a_phones_npu_through_the_qnn_sdk_tools_on_the_device(
    phones: dict[str, Any], tmp_path: Path
) -> None:
    """A QNN model library on a phone whose agent finds Qualcomm's tools through
    DEVICELAB_DEVICE_ENV: the agent runs qnn-net-run and qnn-profile-viewer (stand-ins
    that print real output; the QNN SDK cannot be had here) and streams the usual
    profile, marked as not run on hardware."""
    import dataclasses

    from tests.vendor_standins import write_qnn_sdk

    write_qnn_sdk(phones["s24"].host_path("/data/local/tmp/qnn-sdk"))
    transport = hub.api.current_registry().resolve(hub.Device("Samsung Galaxy S24")).transport
    original = transport.config  # type: ignore[attr-defined]
    transport.config = dataclasses.replace(  # type: ignore[attr-defined]
        original, env=("QNN_SDK_ROOT=/data/local/tmp/qnn-sdk",)
    )
    transport.close()  # the running agent has another environment: it is replaced
    model = tmp_path / "libtiny_cnn.so"
    model.write_bytes(b"\x7fELF" + b"\0" * 60)  # qnn-net-run's stand-in never loads it
    try:
        job = hub.submit_profile_job(
            model, hub.Device("Samsung Galaxy S24"), input_specs={"image": (1, 3, 8, 8)},
            options="--compute_unit npu --max_profiler_iterations 3",
        )  # fmt: skip
        assert job.wait(timeout=JOB_TIMEOUT_SEC).success, job.get_status().message
        result = job.download_profile()
    finally:
        transport.config = original  # type: ignore[attr-defined]
        transport.close()
    applied = result["devicelab"]["applied"]
    assert applied["runtime"] == "qnn-net-run" and applied["accelerators"] == ["libQnnHtp.so"]
    assert any("not run on hardware" in warning for warning in applied["warnings"])
    assert {layer["compute_unit"] for layer in result["execution_detail"]} == {"NPU"}
    assert all(layer["execution_cycles"] for layer in result["execution_detail"])
    assert result["execution_summary"]["estimated_inference_time"] > 0


def test_a_device_python_that_cannot_start_the_agent_fails_at_once_with_its_log(
    phones: dict[str, Any], adb: AdbServer
) -> None:
    from controller.errors import UserError
    from controller.transports.adb import AdbDeviceConfig, AdbTransport

    device = adb.client().device(phones["s24"].serial)
    config = AdbDeviceConfig(python="/data/local/tmp/no-such-python", root="/data/local/tmp/dl-bad")
    transport = AdbTransport(device, config)
    with pytest.raises(UserError, match="exited before it was ready with '/data/local/tmp/no-such"):
        transport.connect()
    transport.close()


def test_the_session_token_never_travels_on_a_command_line(phones: dict[str, Any]) -> None:
    """Any app on a phone can read other processes' command lines while they run: the
    token goes by the sync protocol into a file only the shell user can read."""
    from controller.transports.adb import AdbDeviceConfig, AdbTransport

    s24 = phones["s24"]
    entry = hub.api.current_registry().resolve(hub.Device("Samsung Galaxy S24"))
    device = entry.transport.device  # type: ignore[attr-defined]
    transport = AdbTransport(device, AdbDeviceConfig(env=("DEVICELAB_TEST_RESTART=1",)))
    s24.processes.command_lines.clear()
    transport.connect().ping()  # another environment: a fresh agent with a fresh token
    try:
        root = s24.host_path("/data/local/tmp/devicelab")
        token = (root / "agent.token").read_text()
        assert len(token) == 32
        assert s24.processes.command_lines  # the shell did run the agent's start
        assert not [line for line in s24.processes.command_lines if token in line]
        assert token not in (root / "agent.session").read_text()
        assert (root / "agent.token").stat().st_mode & 0o077 == 0
    finally:
        transport.close()
        entry.transport.close()  # its agent was replaced: the next job starts one again
