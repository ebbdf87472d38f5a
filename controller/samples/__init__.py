"""Small sample models the project generates, so every feature runs out of the box.

``devicelab samples DIR`` writes them; tests use them too. They are tiny on
purpose: the QNN HTP simulator on a host CPU is slow.
"""

from __future__ import annotations

from pathlib import Path


def write_samples(directory: Path) -> list[Path]:
    """Write every sample model into ``directory``; return their paths.

    Example:
        write_samples(Path("models"))  # models/tiny_cnn.onnx, models/tiny_cnn.tflite, ...
    """
    from controller.samples.onnx_models import write_tiny_cnn_onnx, write_tiny_cnn_qdq_onnx
    from controller.samples.tflite_models import (
        write_mobilenet_like_tflite,
        write_tiny_cnn_tflite,
    )

    directory.mkdir(parents=True, exist_ok=True)
    return [
        write_tiny_cnn_onnx(directory / "tiny_cnn.onnx"),
        write_tiny_cnn_qdq_onnx(directory / "tiny_cnn_qdq.onnx"),
        write_tiny_cnn_onnx(directory / "tiny_cnn_dynamic.onnx", dynamic_batch=True),
        write_tiny_cnn_tflite(directory / "tiny_cnn.tflite"),
        # ~4 ms per inference on one core: big enough for per-layer shares to mean something.
        write_mobilenet_like_tflite(directory / "mobilenet_like.tflite"),
    ]
