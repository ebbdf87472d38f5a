"""Small sample models the project generates, so every feature runs out of the box.

``devicelab samples DIR`` writes them; tests use them too. They are tiny on
purpose: the QNN HTP simulator on a host CPU is slow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# What writing some samples needs beyond the base install (pyproject.toml's `agent` extra):
# the QDQ model is quantized by onnxruntime's quantizer, the .tflite files are written with
# LiteRT's flatbuffer schema. The base install (the controller alone) writes the others.
_NEEDS = "pip install 'devicelab[agent]'"


def write_samples(directory: Path, skip_missing: bool = False) -> list[Path]:
    """Write every sample model into ``directory``; return their paths.

    With ``skip_missing``, a sample whose writer's libraries are not installed is
    left out (``skipped_samples`` names them) instead of raising ImportError.

    Example:
        write_samples(Path("models"))  # models/tiny_cnn.onnx, models/tiny_cnn.tflite, ...
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, write in _writers().items():
        try:
            written.append(write(directory / name))
        except ImportError:
            if not skip_missing:
                raise
    return written


def skipped_samples(directory: Path) -> list[str]:
    """The samples ``write_samples(directory, skip_missing=True)`` left out, and why."""
    return [f"{name} ({_NEEDS})" for name in _writers() if not (directory / name).exists()]


def _writers() -> dict[str, Callable[[Path], Path]]:
    from controller.samples.onnx_models import write_tiny_cnn_onnx, write_tiny_cnn_qdq_onnx

    def tflite(function: str) -> Callable[[Path], Path]:
        def write(path: Path) -> Path:
            from controller.samples import tflite_models  # imports flatbuffers and LiteRT

            return getattr(tflite_models, function)(path)  # type: ignore[no-any-return]

        return write

    return {
        "tiny_cnn.onnx": write_tiny_cnn_onnx,
        "tiny_cnn_qdq.onnx": write_tiny_cnn_qdq_onnx,
        "tiny_cnn_dynamic.onnx": lambda path: write_tiny_cnn_onnx(path, dynamic_batch=True),
        "tiny_cnn.tflite": tflite("write_tiny_cnn_tflite"),
        # ~4 ms per inference on one core: big enough for per-layer shares to mean something.
        "mobilenet_like.tflite": tflite("write_mobilenet_like_tflite"),
    }
