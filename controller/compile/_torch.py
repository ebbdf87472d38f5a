"""PyTorch sources: stored at upload as the cloud client stores them, exported on this host.

What is accepted, and how each becomes a file in the store:

* a TorchScript module (``torch.jit.script`` or ``torch.jit.trace``) -> ``.pt``
  (``torch.jit.save``), model type ``torchscript``;
* a ``torch.export.ExportedProgram`` -> ``.pt2`` (``torch.export.save``), model type
  ``torch_exported_program``;
* an ``onnx.ModelProto`` -> ``.onnx``;
* ``.pt`` / ``.pt2`` files as they are, after a structural check (both are zip archives;
  a ``torch.save`` pickle is refused, it holds Python objects, not a graph).

At compile, a source becomes ONNX with torch's own exporter, one path per kind:
TorchScript through the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``:
the dynamo exporter cannot re-trace a ScriptModule's compiled graph), an ExportedProgram
through the dynamo exporter (``dynamo=True``, which needs ``onnxscript``), which takes the
program as exported. Inputs are named after ``input_specs`` and outputs ``output_0``...,
as the cloud client names them.

torch is an optional extra (``pip install 'devicelab[torch]'``); nothing here imports it
until a torch source is used, and its absence is a ``UserError`` naming the extra.
"""

from __future__ import annotations

import importlib.util
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from controller.compile._model import SourceModel
from controller.compile._shapes import InputSpecs, normalize_specs
from controller.errors import UserError
from controller.options.table import TORCH_SOURCE_TYPES

#: The model types of PyTorch sources, and the suffix each is stored with.
TORCH_TYPES = TORCH_SOURCE_TYPES
TORCH_SUFFIXES = {kind: suffix for suffix, kind in TORCH_TYPES.items()}
TORCH_EXTRA = "pip install 'devicelab[torch]'"
#: The dynamo exporter's ONNX opset; 18 is the lowest it emits without a version
#: conversion pass (which warns and can drop ops), and ONNX Runtime and QNN take it.
_OPSET = 18


def require_torch(what: str) -> Any:
    """``torch``, or a UserError saying ``what`` needs the ``torch`` extra."""
    if importlib.util.find_spec("torch") is None:
        raise UserError(f"{what} needs PyTorch, which is not installed: {TORCH_EXTRA}")
    import torch

    return torch


def is_torch_object(model: object) -> bool:
    """True for any object from torch (without importing torch when it is absent)."""
    return type(model).__module__.split(".")[0] == "torch"


def upload_file(model: object, directory: Path, name: str | None) -> tuple[Path, str] | None:
    """The file and model type to store for ``model``, or None for files other code checks.

    In-memory models (torch modules, ExportedPrograms, ``onnx.ModelProto``) are written
    to ``directory``; ``.pt`` / ``.pt2`` paths are checked and returned as they are.

    Raises:
        UserError: as ``save_object`` and ``check_file`` do.
    """
    if isinstance(model, str | Path):
        path = Path(model)
        return (path, check_file(path)) if path.suffix.lower() in TORCH_TYPES else None
    return save_object(model, directory, name or _default_name(model))


def _default_name(model: object) -> str:
    """A name the user would recognise: the module's class, or the ONNX graph's name."""
    original = getattr(model, "original_name", None)  # a ScriptModule's class name
    graph = getattr(getattr(model, "graph", None), "name", None)  # an onnx.ModelProto's
    for candidate in (original, graph if isinstance(graph, str) else None):
        if candidate:
            return str(candidate)
    return "exported_program" if type(model).__name__ == "ExportedProgram" else "model"


def save_object(model: object, directory: Path, name: str) -> tuple[Path, str]:
    """Write an in-memory model to ``directory``; returns the file and its model type.

    Raises:
        UserError: a plain ``nn.Module`` (trace, script or export it first), or a type
            that is no model.
    """
    if type(model).__module__.startswith("onnx") and type(model).__name__ == "ModelProto":
        import onnx

        path = directory / f"{Path(name).stem}.onnx"
        onnx.save_model(model, str(path))  # type: ignore[arg-type]
        return path, "onnx"
    torch = require_torch(f"uploading a {type(model).__name__}")
    if isinstance(model, torch.jit.ScriptModule):
        path = directory / f"{Path(name).stem}.pt"
        torch.jit.save(model, str(path))
        return path, "torchscript"
    if isinstance(model, torch.export.ExportedProgram):
        path = directory / f"{Path(name).stem}.pt2"
        torch.export.save(model, str(path))
        return path, "torch_exported_program"
    if isinstance(model, torch.nn.Module):
        raise UserError(
            f"a plain {type(model).__name__} (torch.nn.Module) holds Python code, not a graph: "
            "upload torch.jit.trace(model, example_inputs), torch.jit.script(model) or "
            "torch.export.export(model, example_inputs)"
        )
    raise UserError(f"cannot upload a {type(model).__name__} as a model")


def check_file(path: Path) -> str:
    """The model type of a ``.pt`` / ``.pt2`` file, checked without loading it.

    Raises:
        UserError: not a TorchScript archive (``.pt``) or an ExportedProgram (``.pt2``).
    """
    kind = TORCH_TYPES[path.suffix.lower()]
    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: not a PyTorch archive (not a zip file)")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if kind == "torchscript" and not any("/code/" in n for n in names):
        raise UserError(
            f"{path}: not a TorchScript module (no code/ in the archive; torch.save pickles "
            "are not accepted): save torch.jit.trace(model, inputs) with torch.jit.save"
        )
    if kind == "torch_exported_program" and not any(n.endswith("/archive_format") for n in names):
        raise UserError(
            f"{path}: not a torch.export archive: save torch.export.export(...) with "
            "torch.export.save"
        )
    return kind


def sample_inputs(specs: InputSpecs) -> list[np.ndarray]:
    """Seeded inputs of the given shapes (values only steer tracing, never results)."""
    rng = np.random.default_rng(0)
    arrays = []
    for spec in normalize_specs(specs).values():
        kind = np.dtype(spec.dtype or "float32")
        # Integers are zeros: random ones could index out of an embedding's range.
        data = rng.random(spec.shape) if kind.kind == "f" else np.zeros(spec.shape)
        arrays.append(np.asarray(data, dtype=kind))
    return arrays


def load_program(source: SourceModel, specs: InputSpecs | None) -> tuple[Any, tuple[Any, ...]]:
    """The source as an ``nn.Module``-like program and the sample arguments to run it with.

    A TorchScript module is turned into an ExportedProgram with torch's own converter
    (``TS2EPConverter``, the one ``torch.export`` names for ScriptModules), so both
    kinds reach the converters as ``torch.export`` graphs.
    """
    torch = require_torch(f"compiling {source.name}")
    if source.model_type == "torch_exported_program":
        program = torch.export.load(str(source.path))
        args = _args(torch, specs) if specs else tuple(program.example_inputs[0])
        return program, args
    if not specs:
        raise UserError(f"{source.name}: a TorchScript source needs input_specs (its shapes)")
    from torch._export.converter import TS2EPConverter

    module = torch.jit.load(str(source.path), map_location="cpu")
    args = _args(torch, specs)
    return TS2EPConverter(module, args).convert(), args


def _args(torch: Any, specs: InputSpecs) -> tuple[Any, ...]:
    return tuple(torch.from_numpy(array) for array in sample_inputs(specs))


def export_onnx(source: SourceModel, specs: InputSpecs | None, out: Path) -> Path:
    """Export a PyTorch source to ONNX at ``out`` with torch's exporter.

    Raises:
        UserError: torch missing, input_specs missing for TorchScript, or the exporter's
            own refusal (an op it cannot export), with its message.
    """
    torch = require_torch(f"compiling {source.name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    input_names = list(specs) if specs else None
    try:
        if source.model_type == "torchscript":
            if not specs:
                raise UserError(f"{source.name}: a TorchScript source needs input_specs")
            module = torch.jit.load(str(source.path), map_location="cpu")
            args = _args(torch, specs)
            outputs = _count_outputs(module(*args))
            torch.onnx.export(
                module,
                args,
                str(out),
                dynamo=False,
                input_names=input_names,
                output_names=[f"output_{i}" for i in range(outputs)],
                opset_version=_OPSET,
            )
        else:
            program = torch.export.load(str(source.path))
            outputs = len(program.graph_signature.user_outputs)
            torch.onnx.export(
                program,
                f=str(out),
                dynamo=True,
                input_names=input_names,
                output_names=[f"output_{i}" for i in range(outputs)],
                opset_version=_OPSET,
                external_data=False,
            )
    except UserError:
        raise
    except Exception as exc:  # the exporters raise many types; each is the user's model
        raise UserError(f"{source.name}: torch.onnx.export failed: {exc}") from exc
    return out


def _count_outputs(result: Any) -> int:
    return len(result) if isinstance(result, Sequence) else 1
