"""Checks on a model file before any device time is spent.

A cheap structural check per format catches the common mistakes (wrong file,
truncated download, renamed extension) with a message naming the file; the
runtime on the device remains the final judge.
"""

from __future__ import annotations

import warnings
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


def _other_format(path: Path, head: bytes) -> str | None:
    """What a file given as a context binary recognisably is instead, if anything."""
    if head[4:8] == b"TFL3":
        return "a TFLite model"
    if head[:4] == b"\x7fELF":
        return "a shared library"
    if head[:2] == b"PK":
        return "a zip archive (a PyTorch or AIMET file?)"
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # not ONNX: the usual case, and the expected one
        return None
    return "an ONNX model" if len(model.graph.node) else None  # random bytes can parse as empty


def _check_qnn_context(path: Path, head: bytes) -> None:
    # QNN does not document the binary's header, so the judge is what the QNN System API
    # accepts (the same call the agent makes, ~10 ms), where the host has libQnnSystem.so;
    # without it, at least a file that is another format is refused here, not on the device.
    other = _other_format(path, head)
    if other is not None:
        raise UserError(f"{path}: not a QNN context binary: the file is {other}")
    from agent.errors import AgentError, InvalidModelError
    from agent.runtimes.qnn_context import read_context_binary

    try:
        read_context_binary(path)
    except InvalidModelError as exc:
        raise UserError(str(exc)) from exc
    except (AgentError, OSError):
        return  # no usable libQnnSystem.so on this host: the device's runtime remains the judge


#: The host-side content check of each runnable model type (types from contract/formats.py).
CHECKS = {
    "tflite": _check_tflite,
    "onnx": _check_onnx,
    "qnn_lib_aarch64_android": _check_elf,
    "qnn_context_binary": _check_qnn_context,
}


def check_model_file(path: Path) -> str:
    """Validate ``path`` and return the target runtime that runs it.

    Example:
        check_model_file(Path("models/tiny_cnn.onnx"))  # -> "onnx"
    """
    if path.is_dir():  # before the extension check: "models/" has none, and is no file
        raise UserError(
            f"{path}: is a directory, not a model file; give the model file inside it "
            "(a folder is taken only as the client's ONNX model folder, NAME.onnx/)"
        )
    target_runtime = target_runtime_for_model(path)  # UserError naming accepted extensions
    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    size = path.stat().st_size
    if size < 8:
        raise UserError(f"{path}: file is too small ({size} bytes) to be a model")
    _check_size(path, size)  # before the format checks, which may read the whole file
    with path.open("rb") as handle:
        head = handle.read(64)
    CHECKS[target_runtime](path, head)
    return target_runtime


#: Larger model files are refused. No runtime here loads one file this big: TFLite
#: flatbuffers and a self-contained ONNX stop at 2 GiB (32-bit offsets, protobuf),
#: and a QNN context binary is mapped into the HTP's 32-bit address space (why LLM
#: exports split theirs into parts); so it could only fail, after a push of minutes.
MODEL_SIZE_LIMIT_BYTES = 4 * 2**30
#: Larger model files are taken with a ``ModelSizeWarning``: each is hashed, copied
#: into the store and pushed to each device (~25 s per GiB over USB 2 adb), and on a
#: phone with 8 GB of RAM shared with the OS a model of 1 GiB is already a large one.
MODEL_SIZE_WARNING_BYTES = 2**30


class ModelSizeWarning(UserWarning):
    """A model file above ``MODEL_SIZE_WARNING_BYTES``: slow to store and push."""


def _check_size(path: Path, size: int) -> None:
    gib = size / 2**30
    if size > MODEL_SIZE_LIMIT_BYTES:
        raise UserError(
            f"{path}: {gib:.1f} GiB is larger than the {MODEL_SIZE_LIMIT_BYTES / 2**30:.0f} GiB "
            "devicelab takes for one model file (no runtime it runs loads one this big); "
            "split the model into parts, as LLM exports do"
        )
    if size > MODEL_SIZE_WARNING_BYTES:
        warnings.warn(
            f"{path}: {gib:.1f} GiB model: it is copied into the store and pushed to each "
            "device (about 25 s per GiB over USB), and may not fit a phone's memory",
            ModelSizeWarning,
            stacklevel=4,  # the script's upload_model / submit_* call
        )


#: protobuf refuses to serialize a message of 2 GiB or more.
_PROTOBUF_LIMIT = 2**31 - 1


def onnx_directory(path: Path, workdir: Path) -> tuple[Path, str] | None:
    """The cloud client's ONNX model folder (``model.onnx/`` holding one ``.onnx`` and at
    most one ``.data`` file of external weights) as one self-contained ``.onnx`` in
    ``workdir``, with its target runtime; None when ``path`` is not such a folder.

    The store keeps one file per model, so the weights are embedded, within protobuf's
    2 GB limit.

    Raises:
        UserError: a folder with other files (AIMET ``.encodings``, ``.bin``), or weights
            past 2 GB.
    """
    if not (path.is_dir() and path.suffix.lower() == ".onnx"):
        return None
    files = sorted(p.name for p in path.iterdir())
    graphs = [f for f in files if f.endswith(".onnx")]
    weights = [f for f in files if f.endswith(".data")]
    if len(graphs) != 1 or len(weights) > 1 or len(files) != 1 + len(weights):
        raise UserError(
            f"{path}: an ONNX model folder holds one .onnx file and at most one .data file "
            f"(found {files}); AIMET .encodings and .bin weights are not supported"
        )
    import onnx

    try:
        model = onnx.load(str(path / graphs[0]))  # external data, relative to the .onnx
    except Exception as exc:  # onnx raises DecodeError, FileNotFoundError, ...
        raise UserError(f"{path}: not a valid ONNX model folder ({exc})") from exc
    if model.ByteSize() >= _PROTOBUF_LIMIT:
        raise UserError(
            f"{path}: its weights make a model of 2 GB or more, which devicelab cannot store "
            "as one ONNX file"
        )
    out = workdir / path.name
    onnx.save_model(model, str(out))
    return out, check_model_file(out)
