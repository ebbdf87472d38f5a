"""qai-hub-models' export CLI, unmodified, against devicelab: the shipped recipe folder
(``controller/samples/zoo_recipe/devicelab_tiny_cnn``, seeded weights, no downloads) for
tflite, onnx and qnn_context_binary, on a simulated Snapdragon and on the phone stand-in
as a Galaxy S23 through the real adb server; w8a8 for onnx and qnn_context_binary.

The export runs in ``.venv-zoo`` (qai-hub-models 0.65.0 with its pins: onnxruntime
1.22.1, protobuf 6.31.1, ai-edge-litert 2.1.1; built by ``scripts/setup.sh``) under
``devicelab run``; compile jobs and the local agent run under this interpreter
(``DEVICELAB_RUNTIME_PYTHON``), which holds devicelab's own runtimes. Cost here: about
30 s per export, 45 s a quantized one (9 exports); .venv-zoo is ~2 GB (its creation:
~90 s from this machine's wheel cache and PyPI).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import daemon
from phone_standin.testing import (
    GALAXY_S23_PROPS,
    adb_server,
    connected_standin,
    find_adb,
)

ROOT = Path(__file__).resolve().parent.parent
ZOO_VENV = ROOT / ".venv-zoo"
ZOO_DEVICELAB = ZOO_VENV / "bin" / "devicelab"
RECIPE = ROOT / "controller" / "samples" / "zoo_recipe" / "devicelab_tiny_cnn"
EXPORT_TIMEOUT_SEC = 600
#: What the export's own summary calls good agreement with the PyTorch model.
MIN_PSNR_DB = 30.0
TARGETS = ["tflite", "onnx", "qnn_context_binary"]

pytestmark = [
    pytest.mark.zoo,
    pytest.mark.skipif(
        not ZOO_DEVICELAB.exists(),
        reason=f"{ZOO_VENV} is absent: create it with scripts/setup.sh (qai-hub-models 0.65.0)",
    ),
]


def _env(home: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICELAB_")}
    return {
        **env,
        "DEVICELAB_HOME": str(home),
        "DEVICELAB_RUNTIME_PYTHON": sys.executable,  # compiles: devicelab's own environment
        "DEVICELAB_WORKER": "daemon",  # under DEVICELAB_RUNTIME_PYTHON, not in the export
        # The suite's choice (tests/conftest.py): else each home builds the managed runtime.
        "DEVICELAB_LOCAL_RUNTIME": os.environ.get("DEVICELAB_LOCAL_RUNTIME", "current"),
        **more,
    }


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("zoo-home")
    yield path
    daemon.stop_worker(path / "store")


def export(
    target: str, device: str, env: dict[str, str], out: Path, *more: str, how: str = "--device"
) -> str:
    """Run the export; return its output after checking it ended well."""
    command = [str(ZOO_DEVICELAB), "run", "qai-hub-models", "export", str(RECIPE)]
    command += ["--target-runtime", target, how, device, "--output-dir", str(out), *more]
    done = subprocess.run(
        command,
        env=env,
        cwd=out.parent,
        capture_output=True,
        text=True,
        timeout=EXPORT_TIMEOUT_SEC,
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def check_summary(output: str, device_name: str, runtime: str) -> None:
    """devicelab's profile in the export's summary, and PSNR against PyTorch."""
    assert re.search(rf"Device\s*: {re.escape(device_name)}", output), output[-3000:]
    assert re.search(rf"Runtime\s*: {runtime.upper()}\b", output), output[-3000:]
    assert re.search(r"Estimated inference time \(ms\)\s*: (<0\.1|\d+\.\d)", output)
    report = re.search(r"More details: (file://\S+)", output)
    assert report is not None and Path(report.group(1)[len("file://") :]).is_file()
    psnr = re.search(r"\|\s*class_logits\s*\|\s*\(1, 10\)\s*\|\s*([\d.]+)\s*\|", output)
    assert psnr is not None, output[-3000:]
    assert float(psnr.group(1)) > MIN_PSNR_DB


@pytest.mark.parametrize("target", TARGETS)
def test_the_export_runs_unmodified_on_a_simulated_snapdragon(
    target: str, home: Path, tmp_path: Path
) -> None:
    env = _env(home, DEVICELAB_SIMULATE="1")
    output = export(target, "Samsung Galaxy S23", env, tmp_path / "out")
    check_summary(output, "Snapdragon 8 Gen 2 (simulated)", target)
    assert any((tmp_path / "out").iterdir())  # the compiled model, downloaded
    # qai-hub-models asks qnn_context_binary as compile(qnn_dlc) -> link: said, not hidden.
    told = "asked for --target_runtime qnn_dlc under devicelab run" in output
    assert told is (target == "qnn_context_binary")


@pytest.mark.parametrize("target", ["onnx", "qnn_context_binary"])
def test_a_quantized_export_runs_with_float_samples(
    target: str, home: Path, tmp_path: Path
) -> None:
    """w8a8: quantize job, --quantize_io compile; the export sends float samples (devicelab
    quantizes them with the model's input scale) and compares dequantized outputs."""
    env = _env(home, DEVICELAB_SIMULATE="1")
    out = tmp_path / "out"
    output = export(target, "Samsung Galaxy S23", env, out, "--precision", "w8a8")
    check_summary(output, "Snapdragon 8 Gen 2 (simulated)", target)


def test_the_export_finds_a_device_by_chipset(home: Path, tmp_path: Path) -> None:
    env = _env(home, DEVICELAB_SIMULATE="1")
    output = export("onnx", "qualcomm-snapdragon-8gen2", env, tmp_path / "out", how="--chipset")
    check_summary(output, "Snapdragon 8 Gen 2 (simulated)", "onnx")


@pytest.fixture(scope="module")
def phone_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A home of its own: its worker daemon must start knowing the private adb server."""
    if find_adb() is None:
        pytest.skip("no `adb` on PATH (apt-get install adb)")
    home = tmp_path_factory.mktemp("zoo-phone-home")
    with (
        adb_server() as adb,
        connected_standin(adb, tmp_path_factory.mktemp("s23"), GALAXY_S23_PROPS),
    ):
        yield _env(home, ANDROID_ADB_SERVER_PORT=str(adb.port))
        daemon.stop_worker(home / "store")  # before its adb server and phone go


@pytest.mark.adb
@pytest.mark.parametrize("target", TARGETS)
def test_the_export_runs_unmodified_on_the_phone_standin_as_a_galaxy_s23(
    target: str, phone_env: dict[str, str], tmp_path: Path
) -> None:
    output = export(target, "Samsung Galaxy S23", phone_env, tmp_path / "out")
    check_summary(output, "Samsung Galaxy S23", target)


def test_the_zoo_environment_satisfies_devicelabs_own_requirements() -> None:
    done = subprocess.run(
        [str(ZOO_VENV / "bin" / "python"), "-m", "pip", "check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # qai-hub-models' own pins (torch <= 2.11, torchvision) are its business: the CPU
    # torch here is 2.13 (see scripts/setup.sh); devicelab's requirements must all hold.
    ours = [line for line in done.stdout.splitlines() if line.lower().startswith("devicelab ")]
    assert ours == [], done.stdout


def test_submit_time_checks_ask_the_runtime_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    from controller import runtime_python
    from controller.compile import _tflite
    from controller.errors import UserError

    zoo_python = str(ZOO_VENV / "bin" / "python")
    monkeypatch.setenv(runtime_python.RUNTIME_PYTHON_ENV, zoo_python)
    assert runtime_python.runtime_has("qai_hub_models")  # the zoo's, not this interpreter's
    assert not runtime_python.runtime_has("litert_torch")  # ai-edge-litert <= 2.1.1 there
    with pytest.raises(UserError, match=f"litert-torch, which is not installed in {zoo_python}"):
        _tflite.require("torchscript")
