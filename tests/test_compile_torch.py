"""PyTorch sources, written as a user's script: trace / script / export a tiny module,
upload it, compile to ONNX on this host (torch's own exporter), profile the result.

torch is the optional ``devicelab[torch]`` extra (scripts/setup.sh installs it: the
CPU build of 2.13.0 from this machine's disk, ~800 MB in the venv, 20-40 s); without it
these tests skip, and the one test of the missing extra runs instead.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import controller as hub
from tests.torch_models import tiny_net

TIMEOUT_SEC = 240
FAST = "--compute_unit cpu --max_profiler_iterations 3"
#: Compiled for this phone's SoC; the phone need not be attached (compile runs here).
PHONE = "Samsung Galaxy S23"
SPECS = {"image": (1, 3, 16, 16)}
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed (devicelab[torch])")


def _example() -> Any:
    import torch

    return torch.rand(1, 3, 16, 16)


def _compile_to_onnx(model: Any, **specs: Any) -> hub.Model:
    job = hub.submit_compile_job(model, hub.Device(PHONE), options="--target_runtime onnx", **specs)
    assert job.wait(TIMEOUT_SEC).success, job.get_status().message
    target = job.get_target_model()
    assert target is not None and target.model_type is hub.SourceModelType.ONNX
    return target


def _onnx_matches_torch(target: hub.Model, tmp_path: Path) -> None:
    """The compiled ONNX computes what the module computes, under the cloud's names."""
    import torch

    path = Path(target.download(str(tmp_path / "compiled.onnx")))
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["image"]
    assert [o.name for o in graph.output] == ["output_0"]
    x = _example()
    (got,) = ort.InferenceSession(str(path)).run(None, {"image": x.numpy()})
    with torch.no_grad():
        want = tiny_net()(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _profiles_here(target: hub.Model) -> None:
    job = hub.submit_profile_job(target, hub.Device(), options=FAST)
    profile = job.download_profile()
    assert profile["execution_summary"]["estimated_inference_time"] > 0


@needs_torch
def test_traced_module_compiles_to_onnx_and_profiles(tmp_path: Path) -> None:
    import torch

    traced = torch.jit.trace(tiny_net(), (_example(),))
    target = _compile_to_onnx(traced, input_specs=SPECS)
    _onnx_matches_torch(target, tmp_path)
    _profiles_here(target)


@needs_torch
def test_scripted_module_uploaded_then_compiled_to_onnx(tmp_path: Path) -> None:
    import torch

    model = hub.upload_model(torch.jit.script(tiny_net()))
    assert model.model_type is hub.SourceModelType.TORCHSCRIPT
    target = _compile_to_onnx(model, input_specs=SPECS)
    _onnx_matches_torch(target, tmp_path)


@needs_torch
def test_exported_program_compiles_to_onnx_without_input_specs(tmp_path: Path) -> None:
    import torch

    program = torch.export.export(tiny_net(), (_example(),))
    model = hub.upload_model(program, name="My Model")  # no suffix in the name
    assert model.model_type is hub.SourceModelType.TORCH_EXPORTED_PROGRAM
    target = _compile_to_onnx(model, input_specs=SPECS)  # names the input "image"
    _onnx_matches_torch(target, tmp_path)
    bare = _compile_to_onnx(model)  # shapes from the program itself
    _profiles_here(bare)


@needs_torch
def test_pt_and_pt2_files_upload_and_compile(tmp_path: Path) -> None:
    import torch

    pt, pt2 = tmp_path / "tiny.pt", tmp_path / "tiny.pt2"
    torch.jit.save(torch.jit.trace(tiny_net(), (_example(),)), str(pt))
    torch.export.save(torch.export.export(tiny_net(), (_example(),)), str(pt2))
    for path in (pt, pt2):
        _onnx_matches_torch(_compile_to_onnx(path, input_specs=SPECS), tmp_path)


@needs_torch
def test_a_torch_save_pickle_or_a_plain_module_is_refused_with_what_to_do(tmp_path: Path) -> None:
    import torch

    pickle = tmp_path / "weights.pt"
    torch.save(tiny_net().state_dict(), str(pickle))
    with pytest.raises(hub.UserError, match="not a TorchScript module"):
        hub.upload_model(pickle)
    with pytest.raises(hub.UserError, match=r"torch\.jit\.trace"):
        hub.upload_model(tiny_net())


@needs_torch
def test_torchscript_without_input_specs_is_refused_at_submit() -> None:
    import torch

    traced = torch.jit.trace(tiny_net(), (_example(),))
    with pytest.raises(hub.UserError, match="needs input_specs"):
        hub.submit_compile_job(traced, hub.Device(PHONE), options="--target_runtime onnx")


def test_onnx_model_proto_uploads_and_compiles(models_dir: Path, tmp_path: Path) -> None:
    proto = onnx.load(str(models_dir / "tiny_cnn.onnx"))
    model = hub.upload_model(proto)
    assert model.model_type is hub.SourceModelType.ONNX
    target = _compile_to_onnx(proto)
    assert onnx.load(target.download(str(tmp_path / "out.onnx"))).graph.input[0].name == "image"
    _profiles_here(target)


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util as util

    from controller.compile import _torch

    real = util.find_spec
    monkeypatch.setattr(
        util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    with pytest.raises(hub.UserError, match=r"devicelab\[torch\]"):
        _torch.require_torch("compiling model.pt")
    if HAS_TORCH:  # a stored TorchScript model: the submit itself is refused
        import torch

        pt = tmp_path / "tiny.pt"
        torch.jit.save(torch.jit.trace(tiny_net(), (_example(),)), str(pt))
        with pytest.raises(hub.UserError, match=r"pip install 'devicelab\[torch\]'"):
            hub.submit_compile_job(pt, hub.Device(PHONE), input_specs=SPECS)


@needs_torch
def test_a_torch_model_is_profiled_once_compiled() -> None:
    import torch

    traced = torch.jit.trace(tiny_net(), (_example(),))
    with pytest.raises(hub.UserError, match="runs once compiled"):
        hub.submit_profile_job(traced, hub.Device(), options=FAST)
    _profiles_here(_compile_to_onnx(traced, input_specs=SPECS))
