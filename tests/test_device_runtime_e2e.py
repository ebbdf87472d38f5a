"""A stock "phone" with no Python: the runtime is built, pushed, unpacked and started.

The aarch64 phone stand-in runs device commands under qemu-user as uid 2000 in
an Android-like root (no /lib, /usr, /tmp, /dev/shm, /etc/passwd; HOME unset;
busybox as /system/bin/sh), reached through the real adb server. Nothing is
prepared on it: the first job deploys devicelab's aarch64 runtime exactly as on
a phone. Emulation is 15-800x slower than a phone, so these tests assert what
ran and what came out, never how fast.

Cost in CI: the runtime build (~35 s with warm download caches, ~70 s cold),
the first agent start under qemu (it compiles the imported stdlib and wheels),
then each job's child process importing its runtime under qemu.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import controller as hub
from phone_standin import StandinDevice
from phone_standin.testing import GALAXY_S23_PROPS, adb_server, connected_standin

pytestmark = [pytest.mark.aarch64, pytest.mark.adb]

PHONE = "Samsung Galaxy S23"
PROPS = {
    **GALAXY_S23_PROPS,
    "ro.build.version.sdk": "34",
    "ro.build.fingerprint": (
        "samsung/dm1qxxx/dm1q:14/UP1A.231005.007/S911BXXS3BWK5:user/release-keys"
    ),
}
JOB_TIMEOUT_S = 900
ROOT = "/data/local/tmp/devicelab"
SHELL_UID = 2000
# float32 kernels on the emulated CPU (XNNPACK / MLAS aarch64 paths) vs the host's x86 ones.
OUTPUT_ATOL = 1e-5


@pytest.fixture(scope="module")
def runtime_archive(aarch64_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``devicelab bundle --arch aarch64 --out FILE`` from the registries."""
    from controller.cli import main

    out = tmp_path_factory.mktemp("bundle") / "runtime.tar.gz"
    assert main(["bundle", "--arch", "aarch64", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def phone(
    aarch64_cache: Path, runtime_archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StandinDevice]:
    patch = pytest.MonkeyPatch()
    patch.delenv("DEVICELAB_DEVICE_PYTHON", raising=False)
    with adb_server() as server:
        patch.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
        sandbox = tmp_path_factory.mktemp("arm-phone") / "s23"
        with connected_standin(
            server, sandbox, PROPS, arch="aarch64", cache_dir=aarch64_cache
        ) as device:
            _leave_an_interrupted_deploy(device)
            yield device
        hub.api.current_registry().close()  # its transports point at this adb server
    patch.undo()


def _profile_on_the_cpu(model: Path) -> dict[str, Any]:
    job = hub.submit_profile_job(
        model, hub.Device(PHONE), options="--compute_unit cpu --max_profiler_iterations 3"
    )
    assert job.wait(timeout=JOB_TIMEOUT_S).success, job.get_status().message
    return job.download_profile()


def _adb(phone: StandinDevice) -> Any:
    import adbutils

    client = adbutils.AdbClient(port=int(os.environ["ANDROID_ADB_SERVER_PORT"]))
    return client.device(phone.serial)


def _leave_an_interrupted_deploy(device: StandinDevice) -> None:
    """What a push or unpack cut short leaves behind: the next deploy must not use it."""
    runtime = device.host_path(f"{ROOT}/runtime")
    (runtime / "0123456789abcdef.partial" / "bin").mkdir(parents=True)
    (runtime / "0123456789abcdef.partial" / "bin" / "python3").write_text("#!/bin/false\n")
    (runtime / "0123456789abcdef.tar.gz.part").write_bytes(b"\x1f\x8b" + b"\0" * 100)
    (runtime / "fedcba9876543210" / "bin").mkdir(parents=True)  # an older runtime version
    for path in [device.host_path(ROOT), *device.host_path(ROOT).rglob("*")]:
        os.chown(path, SHELL_UID, SHELL_UID)  # as the shell user left them on a phone


def test_the_runtime_archive_is_small_and_says_what_it_holds(runtime_archive: Path) -> None:
    import tarfile

    assert runtime_archive.stat().st_size <= 70 * 1024 * 1024  # the target
    with tarfile.open(runtime_archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("devicelab-runtime.json"))  # type: ignore[arg-type]
    assert {"bin/python3.11", "lib/ld-linux-aarch64.so.1", "lib/libc.so.6"} <= names
    assert manifest["arch"] == "aarch64" and manifest["python"].startswith("3.11")
    assert set(manifest["sizes"]) <= names


def test_two_controllers_finding_no_runtime_push_it_once(
    phone: StandinDevice, runtime_archive: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from controller.transports.adb import AdbDeviceConfig, AdbTransport

    transports = [AdbTransport(_adb(phone), AdbDeviceConfig()) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        chosen = list(pool.map(lambda t: t._device_python(), transports))
    assert {python.source for python in chosen} == {"runtime"}
    assert len({python.command for python in chosen}) == 1
    pushed = sorted(python.pushed_bytes for python in chosen)
    assert pushed == [0, runtime_archive.stat().st_size]  # one pushed, the other waited


def test_a_phone_without_python_shows_up_in_devices(
    phone: StandinDevice, capsys: pytest.CaptureFixture[str]
) -> None:
    from controller.cli import main

    shell = _adb(phone).shell("command -v python3 || id -u")
    assert shell.strip() == "2000"  # the shell user, and no Python anywhere on its PATH
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert PHONE in out and phone.serial in out


def test_profiling_a_tflite_deploys_the_runtime_and_runs_on_the_emulated_cpu(
    phone: StandinDevice, models_dir: Path
) -> None:
    result = _profile_on_the_cpu(models_dir / "tiny_cnn.tflite")
    assert len(result["execution_summary"]["all_inference_times"]) == 3
    assert result["execution_detail"], "LiteRT's per-op profiler gave no layers"
    environment = result["devicelab"]["environment"]
    device = environment["device"]
    assert (device["arch"], device["abi"], device["os"]) == ("aarch64", "arm64-v8a", "android")
    assert device["os_build"] == PROPS["ro.build.fingerprint"] and device["soc"]
    assert device["python"]["source"] == "runtime" and len(device["python"]["runtime_id"]) == 16
    assert device["python"]["runtime"]["wheels"]["ai-edge-litert"]
    assert environment["agent"]["machine"] == "aarch64"
    assert environment["runtimes"]["litert"]
    applied = result["devicelab"]["applied"]
    assert applied["settings"]["peak_memory_method"]


def test_interrupted_deploys_and_old_runtimes_are_cleaned_and_the_runtime_is_whole(
    phone: StandinDevice,
) -> None:
    runtime = phone.host_path(f"{ROOT}/runtime")
    names = sorted(p.name for p in runtime.iterdir())
    assert len(names) == 1 and len(names[0]) == 16, names  # only the renamed, verified runtime
    assert (runtime / names[0] / "bin" / "python3").read_text().startswith("#!/system/bin/sh")


def test_profiling_an_onnx_on_the_cpu_ep(phone: StandinDevice, models_dir: Path) -> None:
    result = _profile_on_the_cpu(models_dir / "tiny_cnn.onnx")
    assert {e["compute_unit"] for e in result["execution_detail"]} == {"CPU"}
    assert result["devicelab"]["environment"]["device"]["arch"] == "aarch64"


def test_inference_on_the_phone_matches_the_host(phone: StandinDevice, models_dir: Path) -> None:
    model = models_dir / "tiny_cnn.onnx"
    rng = np.random.default_rng(7)
    inputs = {"image": [rng.standard_normal((1, 3, 32, 32), dtype=np.float32) for _ in range(2)]}
    on_phone = hub.submit_inference_job(model, hub.Device(PHONE), inputs=inputs)
    on_host = hub.submit_inference_job(model, hub.Device("local"), inputs=inputs)
    phone_out = on_phone.download_output_data()
    host_out = on_host.download_output_data()
    assert phone_out.keys() == host_out.keys()
    for name in host_out:
        for got, want in zip(phone_out[name], host_out[name], strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=OUTPUT_ATOL)


def test_a_second_controller_attaches_and_pushes_nothing(phone: StandinDevice) -> None:
    from controller.transports.adb import AdbDeviceConfig, AdbTransport

    transport = AdbTransport(_adb(phone), AdbDeviceConfig())
    try:
        transport.connect().ping()
        assert transport.deploy_bytes == 0
        assert transport.python is not None and transport.python.pushed_bytes == 0
    finally:
        transport.close()


def test_doctor_on_the_phone_exits_0(
    phone: StandinDevice, capsys: pytest.CaptureFixture[str]
) -> None:
    from controller.cli import main

    assert main(["doctor", phone.serial, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["abi"]["value"] == "arm64-v8a (aarch64)"
    assert checks["python"]["value"].startswith("3.11.2 (runtime")
    assert checks["device runtime"]["status"] == "ok"
    assert checks["runtime litert"]["status"] == "ok"
    assert checks["runtime onnxruntime"]["status"] == "ok"
    assert report["can_run_jobs"]
