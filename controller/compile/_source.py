"""What this host can compile: source model types, target runtimes, loading and saving.

Compile runs on the host with what is installed here: ``onnx``, ``onnxruntime`` (its
quantization tools) and ``onnxruntime-qnn`` (QNN's HTP backend, which prepares context
binaries for any Snapdragon SoC). Sources other than ONNX, and targets that need
converters this host lacks, are refused up front with what is missing.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from controller.errors import UserError

#: The targets this host produces, and the artifact suffix of each.
SUFFIXES = {"onnx": ".onnx", "qnn_context_binary": ".bin"}
#: A protobuf cannot exceed 2 GiB; larger models need external data files.
_PROTOBUF_LIMIT = 2**31 - 1

_NO_SOURCE = {
    ".pt": (
        "a TorchScript (.pt) source needs a PyTorch export to ONNX, which this host does not do "
        "(PyTorch is not installed and compile takes ONNX); export it with torch.onnx.export "
        "and submit the .onnx"
    ),
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

_NO_TARGET = {
    "tflite": (
        "--target_runtime tflite from an ONNX source needs an ONNX-to-TFLite converter "
        "(onnx2tf with TensorFlow, or ai-edge-torch for PyTorch sources), and none is installed "
        "here; ai-edge-litert only runs .tflite files (its converter takes TensorFlow/JAX, not "
        "ONNX). Use --target_runtime onnx or qnn_context_binary"
    ),
    "qnn_lib_aarch64_android": (
        "--target_runtime qnn_lib_aarch64_android needs Qualcomm's qnn-onnx-converter and "
        "qnn-model-lib-generator from the QNN SDK (plus the Android NDK to build the .so), which "
        "are not installed here; onnxruntime-qnn ships only QNN's runtime libraries. Use "
        "--target_runtime qnn_context_binary for an HTP artifact"
    ),
}


def check_source(source: Path) -> None:
    """Refuse a source this host cannot compile, naming what is missing.

    Raises:
        UserError: not an existing ``.onnx`` file.

    Example:
        >>> check_source(Path("model.pt"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        controller.errors.UserError: model.pt: a TorchScript (.pt) source needs a PyTorch export...
    """
    suffix = source.suffix.lower()
    if suffix in _NO_SOURCE:
        raise UserError(f"{source}: {_NO_SOURCE[suffix]}")
    if suffix != ".onnx":
        raise UserError(
            f"{source}: compile takes an ONNX model (.onnx); got {suffix or 'no suffix'!r}"
        )
    if not source.is_file():
        raise UserError(f"{source}: no such model file")


def check_target(target_runtime: str) -> str:
    """The artifact suffix for ``target_runtime``, or a UserError naming what is missing.

    Example:
        >>> check_target("qnn_context_binary")
        '.bin'
    """
    if target_runtime in _NO_TARGET:
        raise UserError(_NO_TARGET[target_runtime])
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
