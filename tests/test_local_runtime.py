"""This host's agent on devicelab's managed runtime: the setting, the error when it cannot
be built, isolation from the user's packages, and the light install that relies on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from controller.errors import UserError
from controller.transports.local import LocalTransport
from controller.transports.local_runtime import (
    host_python,
    local_runtime_mode,
    managed_qnn_versions,
)

ROOT = Path(__file__).resolve().parent.parent
# What the base install must not pull: the runtimes that measure, and the converters.
RUNTIME_DISTRIBUTIONS = {"onnxruntime", "onnxruntime-qnn", "ai-edge-litert", "torch",
                         "tflite-runtime", "litert-torch"}  # fmt: skip
INSTALL_TIMEOUT_S = 600


def test_an_unknown_local_runtime_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICELAB_LOCAL_RUNTIME", "system")
    with pytest.raises(UserError, match="DEVICELAB_LOCAL_RUNTIME='system'.*managed, current"):
        local_runtime_mode()
    monkeypatch.setenv("DEVICELAB_LOCAL_RUNTIME", "")
    assert local_runtime_mode() == "managed"


def test_a_host_that_cannot_build_the_runtime_is_told_what_is_missing_and_the_ways_around(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVICELAB_HOME", str(tmp_path / "home"))  # nothing built there
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no apt-get: as on a host that is not Debian's
    with pytest.raises(UserError) as raised:
        host_python("managed")
    message = str(raised.value)
    assert "could not be built" in message and "needs apt-get" in message
    assert "devicelab bundle --arch" in message and "DEVICELAB_LOCAL_RUNTIME=current" in message


def test_the_users_onnxruntime_never_reaches_the_managed_agent(
    managed_host_runtime: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A venv's own onnxruntime (here a stand-in on PYTHONPATH) is not what the agent runs."""
    package = tmp_path / "user-site" / "onnxruntime"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('__version__ = "1.22.1"\n')
    monkeypatch.setenv("PYTHONPATH", str(package.parent))
    transport = LocalTransport(workdir=tmp_path / "agent", mode="managed")
    try:
        info = transport.connect().device_info()
    finally:
        transport.close()
    versions = {r.name: r.version for r in info.runtimes if r.available}
    pinned = transport.describe()["python"]["runtime"]["wheels"]
    assert versions["onnxruntime"] == pinned["onnxruntime"] != "1.22.1"
    assert transport.describe()["python"]["source"] == "managed"
    assert transport.python is not None
    qnn = managed_qnn_versions(transport.python)  # read from the runtime, not this venv
    assert qnn["onnxruntime_qnn"] == pinned["onnxruntime-qnn"] and qnn["qnn_sdk"]


def _copy_sources(dest: Path) -> Path:
    """The distribution's files only: pip builds in the source tree, which must stay clean."""
    for name in ("agent", "contract", "controller", "protos", "device_profiles"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)
    return dest


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout + done.stderr


@pytest.mark.install
def test_the_base_install_alone_profiles_a_model_on_the_managed_runtime(
    managed_host_runtime: Path, tmp_path: Path
) -> None:
    """``pip install devicelab`` (no extras) in a fresh venv: samples, profile, doctor.

    Cost: ~40 s with pip's download cache warm (the venv and the base install), plus the
    managed runtime (shared with the other tests; ~70 s once per pytest cache).
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python, devicelab = str(venv / "bin" / "python"), str(venv / "bin" / "devicelab")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.pop("DEVICELAB_LOCAL_RUNTIME", None)  # the default: managed
    # A home of its own: a worker daemon another test left serving the session's store
    # (on the `current` runtime) would claim this job first. The managed runtime is the
    # session's, linked in.
    home = tmp_path / "home"
    home.mkdir()
    (home / "runtimes").symlink_to(managed_host_runtime.parents[1], target_is_directory=True)
    env["DEVICELAB_HOME"] = str(home)
    source = _copy_sources(tmp_path / "src")
    _run([python, "-m", "pip", "install", "--quiet", str(source)], tmp_path, env)
    listed = json.loads(_run([python, "-m", "pip", "list", "--format=json"], tmp_path, env))
    installed = {entry["name"].lower() for entry in listed}
    assert "devicelab" in installed and not installed & RUNTIME_DISTRIBUTIONS
    samples = _run([devicelab, "samples", "models"], tmp_path, env)
    assert "tiny_cnn.onnx" in samples and "skipped: tiny_cnn.tflite" in samples
    options = "--compute_unit cpu --max_profiler_iterations 5"
    _run([devicelab, "profile", "models/tiny_cnn.onnx", "--options", options,
          "--json", "result.json"], tmp_path, env)  # fmt: skip
    result = json.loads((tmp_path / "result.json").read_text())
    assert len(result["execution_summary"]["all_inference_times"]) == 5
    assert result["devicelab"]["environment"]["device"]["python"]["source"] == "managed"
    doctor = _run([devicelab, "doctor"], tmp_path, env)
    assert "managed" in doctor and managed_host_runtime.name in doctor
