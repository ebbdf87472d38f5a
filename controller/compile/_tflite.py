"""``--target_runtime tflite``: PyTorch -> TFLite with litert-torch, ONNX -> TFLite with onnx2tf.

Why these two (checked on PyPI, 2026-11-30):

* **litert-torch** 0.10.0 (Google's, the renamed ai-edge-torch; ``torch>=2.4,<2.15``,
  ``ai-edge-litert>=2.3,<2.4``) converts a ``torch.export`` graph straight to a TFLite
  flatbuffer with LiteRT's own converter, no TensorFlow. It needs no layout rewrite and
  keeps PyTorch's NCHW inputs. Cost measured here on top of torch: 1,070-1,240 MB in the venv,
  36-48 s (jax, transformers and the MLIR converter come with it). It is the
  ``tflite-convert`` extra, which CI installs.
* **onnx2tf** 1.29.24 is the maintained ONNX -> TFLite path (onnx-tf is abandoned); it
  goes through TensorFlow. Its wheel pins every dependency exactly (``numpy==1.26.4``,
  ``protobuf==4.25.5``, ``onnxruntime==1.23.0``, ``tensorflow==2.19.0``), which cannot
  sit beside this package (``protobuf>=7.35``, numpy 2, onnxruntime 1.24+), so it runs
  as a subprocess from its own environment: ``$DEVICELAB_ONNX2TF`` names its executable,
  else ``onnx2tf`` on ``PATH`` or beside this Python. Measured: a venv of TensorFlow
  2.21 + onnx2tf (``--no-deps``) is 2,329 MB and installs in 44 s, past the 1.5 GB CI
  budget, so CI does not install it and its tests skip, saying so.

Both are checked at submit (``require``), so a host without them refuses the job at once.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from controller import settings
from controller.compile import _torch
from controller.compile._model import SourceModel
from controller.compile._shapes import InputSpecs
from controller.errors import UserError
from controller.runtime_python import runtime_has, runtime_python

ONNX2TF_ENV = "DEVICELAB_ONNX2TF"
TFLITE_EXTRA = "pip install 'devicelab[tflite-convert]'"
#: A conversion of a large model through TensorFlow takes minutes; past this it is stuck.
ONNX2TF_TIMEOUT_S = 1800
#: onnx2tf fetches this sample image batch from the network for 4-D inputs unless it is
#: in its working directory; the host may be offline, and the data only feeds onnx2tf's
#: own accuracy check, so seeded random data of that shape stands in.
_ONNX2TF_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"


def onnx2tf_command() -> str | None:
    """The onnx2tf executable: ``$DEVICELAB_ONNX2TF``, ``PATH``, or beside this Python."""
    configured = settings.path_text(ONNX2TF_ENV)
    if configured:
        return configured
    beside = Path(sys.executable).parent / "onnx2tf"
    return shutil.which("onnx2tf") or (str(beside) if beside.is_file() else None)


def require(source_type: str) -> None:
    """Refuse a TFLite compile this host cannot do, saying what to install.

    Raises:
        UserError: for PyTorch sources without torch or litert-torch; for ONNX sources
            without an onnx2tf executable.
    """
    if source_type in _torch.TORCH_SUFFIXES:
        _torch.require_torch("--target_runtime tflite from a PyTorch source")
        if not runtime_has("litert_torch"):  # where the worker will convert it
            raise UserError(
                "--target_runtime tflite from a PyTorch source needs litert-torch, which is "
                f"not installed in {runtime_python()}: {TFLITE_EXTRA}"
            )
        return
    if onnx2tf_command() is None:
        raise UserError(
            "--target_runtime tflite from an ONNX source needs onnx2tf, which is not "
            f"installed: its exact pins (TensorFlow 2.19, numpy 1.26) need an environment of "
            "its own: python -m venv ~/onnx2tf && ~/onnx2tf/bin/pip install onnx2tf, then "
            f"{ONNX2TF_ENV}=~/onnx2tf/bin/onnx2tf (or use --target_runtime onnx)"
        )


def from_torch(
    source: SourceModel,
    specs: InputSpecs | None,
    out: Path,
    layout: TorchLayout | None = None,
) -> Path:
    """Convert a PyTorch source to ``out`` with litert-torch.

    ``layout`` names the outputs and the inputs/outputs to take or give channel-last
    (``--output_names``, ``--force_channel_last_input``/``_output``): the exported
    module is wrapped in the transposes before conversion, so the converted graph
    reads and writes those layouts itself.

    Raises:
        UserError: a converter refusal (an op LiteRT lacks), with its message.
    """
    program, args = _torch.load_program(source, specs)
    import litert_torch

    inputs = list(specs) if specs else [str(n) for n in program.graph_signature.user_inputs]
    count = len(program.graph_signature.user_outputs)
    layout = layout or TorchLayout()
    outputs = list(layout.output_names) or [f"output_{i}" for i in range(count)]
    module, args = _channel_last(program.module(), args, inputs, outputs, layout)
    try:
        edge = litert_torch.convert(module, args)
        out.parent.mkdir(parents=True, exist_ok=True)
        edge.export(str(out))
    except Exception as exc:  # the converter raises many types; each is about the model
        raise UserError(f"{source.name}: litert-torch could not convert it: {exc}") from exc
    _name_io(out, inputs, outputs)
    return out


@dataclass(frozen=True)
class TorchLayout:
    """Compile options a PyTorch -> TFLite conversion applies (names as the user gave)."""

    output_names: tuple[str, ...] = ()
    channel_last_inputs: tuple[str, ...] = ()
    channel_last_outputs: tuple[str, ...] = ()


def _to_last(tensor: Any) -> Any:
    """(N, C, ...) -> (N, ..., C): the channel axis moved last."""
    return tensor.permute(0, *range(2, tensor.dim()), 1)


def _to_first(tensor: Any) -> Any:
    """(N, ..., C) -> (N, C, ...)."""
    return tensor.permute(0, tensor.dim() - 1, *range(1, tensor.dim() - 1))


def _channel_last(
    module: Any, args: tuple[Any, ...], inputs: list[str], outputs: list[str], layout: TorchLayout
) -> tuple[Any, tuple[Any, ...]]:
    """``module`` wrapped to take the named inputs and give the named outputs channel-last."""
    if not (layout.channel_last_inputs or layout.channel_last_outputs):
        return module, args
    import torch

    last_in = [name in layout.channel_last_inputs for name in inputs]
    last_out = [name in layout.channel_last_outputs for name in outputs]

    class ChannelLast(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *values: Any) -> Any:
            result = self.inner(
                *(_to_first(v) if f else v for v, f in zip(values, last_in, strict=True))
            )
            many = isinstance(result, tuple | list)
            results = list(result) if many else [result]
            results = [_to_last(r) if f else r for r, f in zip(results, last_out, strict=True)]
            return tuple(results) if many else results[0]

    return ChannelLast(), tuple(_to_last(a) if f else a for a, f in zip(args, last_in, strict=True))


def _name_io(path: Path, inputs: list[str], outputs: list[str]) -> None:
    """Name the converted model's inputs and outputs as the ONNX path does: the
    ``input_specs`` names and ``--output_names`` (default ``output_0``, ...).

    litert-torch names them ``serving_default_args_0`` / ``serving_default_output_0``,
    and a script runs the compiled model with the names it gave
    (``inputs=dict(image=[...])``), as the cloud client's compiled models keep them.
    Tensor names and the signature's names are both set (runners read either). Left
    as converted when the counts differ or the weights live outside the flatbuffer.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    graph = model.subgraphs[0]
    if len(graph.inputs) != len(inputs) or len(graph.outputs) != len(outputs):
        return
    if any((buffer.offset or 0) > 1 for buffer in model.buffers or []):
        return  # a > 2 GB model keeps its weights after the flatbuffer: not rewritten
    names = dict(zip(graph.inputs, inputs, strict=True))
    names.update(dict(zip(graph.outputs, outputs, strict=True)))
    for index, name in names.items():
        graph.tensors[index].name = name.encode()
    for signature in model.signatureDefs or []:
        for tensor_map in [*(signature.inputs or []), *(signature.outputs or [])]:
            tensor_map.name = names.get(tensor_map.tensorIndex, tensor_map.name)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())


def from_onnx(source: Path, out: Path, inputs: list[str]) -> Path:
    """Convert an ONNX model to ``out`` with onnx2tf, keeping its inputs' layout.

    onnx2tf makes 4-D inputs channel-last by default; the cloud service keeps the source's
    layout (``--force_channel_last_input`` was applied to the ONNX graph already), so
    every input is kept as it is (``-k``).

    Raises:
        UserError: onnx2tf missing, or its failure with the end of its output.
    """
    command = onnx2tf_command()
    if command is None:
        require("onnx")
    work = out.parent / "onnx2tf"
    work.mkdir(parents=True, exist_ok=True)
    sample = np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32)
    np.save(work / _ONNX2TF_SAMPLE, sample)
    argv = [str(command), "-i", str(source.resolve()), "-o", "saved", "-n", "-osd", "-coion"]
    argv += ["-k", *inputs] if inputs else []
    try:
        run = subprocess.run(
            argv, cwd=work, capture_output=True, text=True, timeout=ONNX2TF_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"onnx2tf ({command}) could not run: {exc}") from exc
    produced = work / "saved" / f"{source.stem}_float32.tflite"
    if run.returncode != 0 or not produced.is_file():
        tail = (run.stderr or run.stdout).strip()[-2000:]
        raise UserError(f"onnx2tf failed on {source.name} (exit {run.returncode}): {tail}")
    shutil.move(produced, out)
    return out
