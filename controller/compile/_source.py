"""What this host can compile: source model types, target runtimes, loading and saving.

Compile runs on the host with what is installed here: ``onnx``, ``onnxruntime`` (its
quantization tools) and ``onnxruntime-qnn`` (QNN's HTP backend, which prepares context
binaries for any Snapdragon SoC); PyTorch sources and the ``tflite`` and
``qnn_lib_aarch64_android`` targets need optional tools (``_torch``, ``_tflite``,
``_qnn_lib``), checked at submit by ``check_request``.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from contract.formats import FORMATS
from controller.compile import _qnn_lib, _tflite, _torch
from controller.compile._model import SourceModel
from controller.errors import UserError

#: The targets this host produces (every runnable format), and the artifact suffix of each.
SUFFIXES = {fmt.model_type: fmt.suffix for fmt in FORMATS if fmt.runnable}
#: Source model suffixes compile takes, and the model type of each.
SOURCE_TYPES = {".onnx": "onnx", **_torch.TORCH_TYPES}
#: A protobuf cannot exceed 2 GiB; larger models need external data files.
_PROTOBUF_LIMIT = 2**31 - 1

_NO_SOURCE = {
    ".aimet_pt": (
        "an AIMET PyTorch (.aimet_pt) source needs PyTorch and AIMET to export it, neither of "
        "which is installed here; export the model to ONNX and submit the .onnx"
    ),
    ".aimet_onnx": (
        "an AIMET ONNX (.aimet_onnx) source carries AIMET quantization encodings, which this host "
        "cannot apply (no AIMET or QNN converter here); submit its .onnx, and quantize it with "
        "--quantize_full_type if needed"
    ),
}


def check_request(source_type: str, target_runtime: str, has_input_specs: bool) -> None:
    """Refuse at submit a compile this host cannot do, naming what is missing.

    Args:
        source_type: the stored model's type (``onnx``, ``torchscript``,
            ``torch_exported_program``).
        target_runtime: the parsed ``--target_runtime``.
        has_input_specs: whether the job gives input shapes.

    Raises:
        UserError: a source compile does not take, torch or a converter missing, or a
            TorchScript source without ``input_specs``.
    """
    if source_type not in SOURCE_TYPES.values():
        raise UserError(
            f"compile takes ONNX, TorchScript (.pt) and torch.export (.pt2) models; "
            f"this one is {source_type!r}"
        )
    if source_type in _torch.TORCH_SUFFIXES:
        _torch.require_torch(f"compiling a {source_type} model")
        if source_type == "torchscript" and not has_input_specs:
            raise UserError(
                "a TorchScript model needs input_specs (name -> shape, or (shape, dtype)) to "
                "compile: the .pt holds no input shapes"
            )
    check_target(target_runtime)
    if target_runtime == "tflite":
        _tflite.require(source_type)
    elif target_runtime == "qnn_lib_aarch64_android":
        _qnn_lib.require()


def check_source(source: Path) -> None:
    """Refuse a source this host cannot compile, naming what is missing.

    Raises:
        UserError: not an existing ``.onnx``, ``.pt`` or ``.pt2`` file.

    Example:
        >>> check_source(Path("model.aimet_pt"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        controller.errors.UserError: model.aimet_pt: an AIMET PyTorch (.aimet_pt) source...
    """
    suffix = source.suffix.lower()
    if suffix in _NO_SOURCE:
        raise UserError(f"{source}: {_NO_SOURCE[suffix]}")
    if suffix not in SOURCE_TYPES:
        raise UserError(
            f"{source}: compile takes ONNX (.onnx), TorchScript (.pt) or torch.export (.pt2) "
            f"models; got {suffix or 'no suffix'!r}"
        )
    if not source.is_file():
        raise UserError(f"{source}: no such model file")


def source_of_file(path: Path) -> SourceModel:
    """A source file given by the user, its type from its suffix (as ``check_source``)."""
    check_source(path)
    return SourceModel(path, SOURCE_TYPES[path.suffix.lower()], path.name)


def check_target(target_runtime: str) -> str:
    """The artifact suffix for ``target_runtime``, or a UserError naming what is missing.

    Example:
        >>> check_target("qnn_context_binary")
        '.bin'
    """
    if target_runtime not in SUFFIXES:
        raise UserError(f"unknown --target_runtime {target_runtime!r}")
    return SUFFIXES[target_runtime]


def load_model(source: Path) -> onnx.ModelProto:
    """The source model, external data included.

    Raises:
        UserError: the file is not an ONNX model.
    """
    try:
        return onnx.load(str(source))
    except (DecodeError, OSError, ValueError) as exc:
        raise UserError(f"{source}: not a readable ONNX model: {exc}") from exc


def save_model(model: onnx.ModelProto, path: Path) -> Path:
    """Check ``model`` fully (``onnx.checker``, strict shape inference) and save it as one file.

    Raises:
        UserError: the checker rejects the model, or it is too large for one file.
    """
    size = model.ByteSize()
    if size > _PROTOBUF_LIMIT:
        raise UserError(
            f"the compiled model is {size / 2**30:.1f} GiB: a single .onnx file holds at most "
            "2 GiB "
            "(larger models need external data files, which compile does not produce)"
        )
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise UserError(f"the compiled model does not pass onnx.checker: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path
