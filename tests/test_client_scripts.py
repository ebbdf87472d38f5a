"""Scripts written the way the cloud client's users write them (its docstring and
documentation examples, with `import controller as hub`) run unchanged here.

Each script in tests/client_scripts/ runs as `python script.py` in a folder of its
own holding the sample models, against the session's private DEVICELAB_HOME and
the worker daemon a user's script gets (not the suite's in-process worker): the
point is what a user sees. A script passes when it exits 0 and writes nothing
unexpected on stderr.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS_DIR = Path(__file__).parent / "client_scripts"
SCRIPTS = sorted(SCRIPTS_DIR.glob("[0-9][0-9]_*.py"))

# What a script needs beyond the base install, by the script's name: the extra to
# install and the module that proves it is there.
NEEDS: dict[str, tuple[str, str]] = {
    "03_torch_traced_compile_onnx.py": ("devicelab[torch]", "torch"),
    "04_torch_default_target.py": ("devicelab[tflite-convert]", "litert_torch"),
}

# Scripts whose environment is part of the scenario they show.
EXTRA_ENV: dict[str, dict[str, str]] = {
    # A phone named in a CI pipeline with no phones: the documented opt-in.
    "15_phone_in_ci.py": {"DEVICELAB_SIMULATE": "1"},
}

# Known failures, with the reason (strict: a fix makes them fail until removed here).
XFAIL: dict[str, str] = {}

# stderr lines that are not the script's concern: the libraries torch and the
# converters pull in log at import on stderr whatever devicelab does.
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} \d\d:\d\d:\d\d"
    r"|Failed to load .*torchao|.*oneDNN custom operations|\s*$)"
)


def _unexpected_stderr(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not _NOISE.match(line)]


def _params() -> list[pytest.ParameterSet]:
    params = []
    for script in SCRIPTS:
        marks: list[pytest.MarkDecorator] = []
        need = NEEDS.get(script.name)
        if need is not None and importlib.util.find_spec(need[1]) is None:
            marks.append(pytest.mark.skip(reason=f"needs the {need[0]} extra ({need[1]})"))
        if script.name in XFAIL:
            marks.append(pytest.mark.xfail(reason=XFAIL[script.name], strict=True))
        params.append(pytest.param(script, id=script.stem, marks=marks))
    return params


def test_scripts_exist() -> None:
    assert 12 <= len(SCRIPTS) <= 20, SCRIPTS


@pytest.mark.parametrize("script", _params())
def test_client_script(script: Path, models_dir: Path, tmp_path: Path) -> None:
    for model in models_dir.iterdir():
        shutil.copy(model, tmp_path / model.name)
    env = dict(os.environ)
    # Scripts use the daemon, as a user's script does (conftest sets in-process
    # for the suite's own jobs); conftest stops the daemon at the session's end.
    env["DEVICELAB_WORKER"] = "daemon"
    env.pop("DEVICELAB_INPROCESS_WORKER", None)
    env.update(EXTRA_ENV.get(script.name, {}))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    assert result.returncode == 0, report
    assert _unexpected_stderr(result.stderr) == [], report


# --- fixes the scripts found (run with the suite's in-process worker) -------------------

_TIMEOUT_SEC = 300


def test_compile_for_this_host(models_dir: Path) -> None:
    """`Device()` is this host for compile jobs too (was: "no device profile matches"):
    onnx needs no SoC; a context binary fails with the reason that the host has no HTP."""
    import controller as hub

    job = hub.submit_compile_job(
        models_dir / "tiny_cnn.onnx", hub.Device(), options="--target_runtime onnx"
    )
    assert job.wait(_TIMEOUT_SEC).success, job.get_status().message
    target = job.get_target_model()
    assert target is not None and target.model_type is hub.SourceModelType.ONNX
    binary = hub.submit_compile_job(
        models_dir / "tiny_cnn.onnx", hub.Device(), options="--target_runtime qnn_context_binary"
    )
    status = binary.wait(_TIMEOUT_SEC)
    assert status.failure and "no Qualcomm HTP" in (status.message or "")


def test_profile_job_results_are_inference_job_results(models_dir: Path, tmp_path: Path) -> None:
    """In the client 0.56 ProfileJobResult is InferenceJobResult."""
    import controller as hub

    job = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx", hub.Device(), options="--max_profiler_iterations 1"
    )
    result = job.download_results(str(tmp_path))
    assert isinstance(result, hub.InferenceJobResult) and isinstance(result, hub.ProfileJobResult)
    assert result.profile is not None and result.output_data is None


def test_compile_job_shapes(models_dir: Path) -> None:
    """`CompileJob.shapes` as the client's: the input specs given, else the model's."""
    import controller as hub

    device = hub.Device()
    plain = hub.submit_compile_job(
        models_dir / "tiny_cnn.onnx", device, options="--target_runtime onnx"
    )
    assert plain.shapes == {"image": ((1, 3, 32, 32), "float32")}
    given = hub.submit_compile_job(
        models_dir / "tiny_cnn_dynamic.onnx",
        device,
        input_specs=dict(image=(2, 3, 32, 32)),
        options="--target_runtime onnx",
    )
    assert given.shapes == {"image": ((2, 3, 32, 32), "float32")}
    assert given.get_target_shapes(_TIMEOUT_SEC) == given.shapes


def test_torch_to_tflite_keeps_the_input_specs_names(tmp_path: Path) -> None:
    """A TFLite compiled from PyTorch takes its inputs by the input_specs names (was:
    litert-torch's ``serving_default_args_0``), outputs ``output_0`` as from ONNX."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("litert_torch", reason="needs the devicelab[tflite-convert] extra")
    import numpy as np

    import controller as hub

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten()).eval()
    sample = torch.rand(1, 3, 6, 6)
    job = hub.submit_compile_job(
        torch.jit.trace(net, sample), hub.Device(), input_specs=dict(image=(1, 3, 6, 6))
    )
    target = job.get_target_model()
    assert target is not None, job.get_status().message
    assert [s.name for s in target.input_spec[None]] == ["image"]
    assert [s.name for s in target.output_spec[None]] == ["output_0"]
    run = hub.submit_inference_job(target, hub.Device(), inputs=dict(image=[sample.numpy()]))
    outputs = run.download_output_data()
    assert outputs is not None
    np.testing.assert_allclose(outputs["output_0"][0], net(sample).detach().numpy(), atol=1e-5)


def test_upload_an_onnx_model_folder(models_dir: Path, tmp_path: Path) -> None:
    """The client's ONNX folder (one .onnx, its .data weights) uploads as one model and
    runs (was: "model file not found"); other files in it are refused, saying what fits."""
    import numpy as np
    import onnx

    import controller as hub

    folder = tmp_path / "tiny_cnn.onnx"
    folder.mkdir()
    onnx.save_model(
        onnx.load(str(models_dir / "tiny_cnn.onnx")),
        str(folder / "model.onnx"),
        save_as_external_data=True,
        location="model.data",
        size_threshold=0,
    )
    model = hub.upload_model(str(folder))
    assert model.name == "tiny_cnn.onnx" and model.model_type is hub.SourceModelType.ONNX
    job = hub.submit_inference_job(
        model, hub.Device(), inputs=dict(image=[np.zeros((1, 3, 32, 32), np.float32)])
    )
    assert job.download_output_data() is not None, job.get_status().message
    (folder / "model.encodings").write_text("{}")
    with pytest.raises(hub.UserError, match="one .onnx file and at most one .data"):
        hub.upload_model(folder)


def test_quantized_io_specs_carry_scale_and_zero_point(models_dir: Path) -> None:
    """A model with quantized inputs says how to quantize them, as the client's
    TensorSpec does (was: scale and zero_point None); float tensors keep None."""
    import numpy as np

    import controller as hub

    sample = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    job = hub.submit_compile_job(
        models_dir / "tiny_cnn.onnx",
        hub.Device(),
        options="--target_runtime onnx --quantize_full_type int8 --quantize_io",
        calibration_data=dict(image=[sample]),
    )
    target = job.get_target_model()
    assert target is not None, job.get_status().message
    (image,) = target.input_spec[None]
    assert image.dtype == "uint8" and image.scale is not None and image.scale > 0
    assert image.zero_point is not None
    float_model = hub.upload_model(models_dir / "tiny_cnn.onnx")
    assert float_model.input_spec[None][0][3:] == (None, None)
