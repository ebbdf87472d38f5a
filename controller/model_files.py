"""Checks on a model file before any device time is spent.

A cheap structural check per format catches the common mistakes (wrong file,
truncated download, renamed extension) with a message naming the file; the
runtime on the device remains the final judge.
"""

from __future__ import annotations

from pathlib import Path

from controller.errors import UserError
from controller.options import target_runtime_for_model


def _check_tflite(path: Path, head: bytes) -> None:
    # A TFLite flatbuffer carries the file identifier "TFL3" at offset 4.
    if head[4:8] != b"TFL3":
        raise UserError(f"{path}: not a TFLite model (no TFL3 flatbuffer identifier)")


def _check_onnx(path: Path, head: bytes) -> None:
    import onnx

    try:
        onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise UserError(f"{path}: not a valid ONNX model ({type(exc).__name__}: {exc})") from exc


def _check_elf(path: Path, head: bytes) -> None:
    if head[:4] != b"\x7fELF":
        raise UserError(f"{path}: not a shared library (no ELF header)")


_CHECKS = {".tflite": _check_tflite, ".onnx": _check_onnx, ".so": _check_elf}


def check_model_file(path: Path) -> str:
    """Validate ``path`` and return the target runtime that runs it.

    Example:
        check_model_file(Path("models/tiny_cnn.onnx"))  # -> "onnx"
    """
    suffix = path.suffix.lower()
    target_runtime = target_runtime_for_model(path)  # UserError naming accepted extensions
    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    size = path.stat().st_size
    if size < 8:
        raise UserError(f"{path}: file is too small ({size} bytes) to be a model")
    with path.open("rb") as handle:
        head = handle.read(64)
    check = _CHECKS.get(suffix)
    if check is not None:
        check(path, head)
    return target_runtime
