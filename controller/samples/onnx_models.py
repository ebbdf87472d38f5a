"""Tiny ONNX sample models for tests, demos and smoke runs.

The models are deliberately small: the QNN HTP backend runs as a simulator on the
host CPU here, so anything bigger makes the tests crawl. Weights
come from a fixed seed, so every call writes byte-identical files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_NAME = "image"
OUTPUT_NAME = "probs"
INPUT_SHAPE = (1, 3, 32, 32)
NUM_CLASSES = 10
OPSET = 17
_SEED = 20240607
_CHANNELS = (3, 8, 16)


def _initializers(channels: tuple[int, int, int]) -> list[onnx.TensorProto]:
    """Deterministic weights, scaled so activations stay in a sane range."""
    rng = np.random.default_rng(_SEED)
    c_in, c_mid, c_out = channels

    def tensor(name: str, shape: tuple[int, ...], scale: float) -> onnx.TensorProto:
        values = (rng.standard_normal(shape) * scale).astype(np.float32)
        return numpy_helper.from_array(values, name)

    return [
        tensor("conv1_w", (c_mid, c_in, 3, 3), 0.3),
        tensor("conv1_b", (c_mid,), 0.1),
        tensor("conv2_w", (c_out, c_mid, 3, 3), 0.15),
        tensor("conv2_b", (c_out,), 0.1),
        tensor("fc_w", (NUM_CLASSES, c_out), 0.3),
        tensor("fc_b", (NUM_CLASSES,), 0.1),
    ]


def _conv(name: str, inputs: list[str], output: str) -> onnx.NodeProto:
    return helper.make_node(
        "Conv", inputs, [output], name=name, kernel_shape=[3, 3], pads=[1, 1, 1, 1]
    )


def _nodes() -> list[onnx.NodeProto]:
    return [
        _conv("conv1", [INPUT_NAME, "conv1_w", "conv1_b"], "c1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        _conv("conv2", ["r1", "conv2_w", "conv2_b"], "c2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], name="softmax", axis=1),
    ]


def build_tiny_cnn(
    *,
    dynamic_batch: bool = False,
    input_size: int = INPUT_SHAPE[2],
    channels: tuple[int, int, int] = _CHANNELS,
) -> onnx.ModelProto:
    """Build the fp32 CNN in memory (see ``write_tiny_cnn_onnx``).

    ``input_size`` and ``channels`` (in, mid, out) scale the same graph up, e.g.
    for benchmarks where a 20 µs model would only measure overheads.
    """
    batch: int | str = "batch" if dynamic_batch else INPUT_SHAPE[0]
    dims = [batch, channels[0], input_size, input_size]
    image = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, dims)
    probs = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [batch, NUM_CLASSES])
    graph = helper.make_graph(_nodes(), "tiny_cnn", [image], [probs], _initializers(channels))
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="devicelab"
    )
    # Pin the IR version so older onnxruntime builds on devices still accept the file.
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def write_tiny_cnn_onnx(path: str | Path, *, dynamic_batch: bool = False) -> Path:
    """Write the fp32 tiny CNN: ``image`` 1x3x32x32 -> 2x(Conv+Relu) -> GAP -> Gemm -> Softmax.

    Args:
        path: Destination ``.onnx`` file (parent directories are created).
        dynamic_batch: Make the batch dimension of input and output the symbolic
            ``"batch"`` instead of 1.

    Returns:
        The written path.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(build_tiny_cnn(dynamic_batch=dynamic_batch), str(out))
    return out


class _RandomImages:
    """Calibration reader for ``quantize_static``: a few seeded random images."""

    def __init__(self, count: int = 8) -> None:
        rng = np.random.default_rng(_SEED + 1)
        batches = (rng.random(INPUT_SHAPE, dtype=np.float32) for _ in range(count))
        self._feeds: Iterator[dict[str, np.ndarray]] = ({INPUT_NAME: b} for b in batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def write_tiny_cnn_qdq_onnx(path: str | Path) -> Path:
    """Write a QDQ (uint8 activations and weights) version of the tiny CNN for QNN HTP.

    Quantised with ``onnxruntime.quantization.quantize_static`` on seeded random
    calibration images, so the file is deterministic. The HTP backend runs QDQ
    models directly; it needs no fp16 precision option.

    Args:
        path: Destination ``.onnx`` file (parent directories are created).

    Returns:
        The written path.
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fp32 = out.with_name(out.stem + ".fp32.onnx")
    write_tiny_cnn_onnx(fp32)
    root = logging.getLogger()
    level = root.level
    # quantize_static logs pre-processing advice through the root logger; a
    # sample this small needs none, and users should not see it on every run.
    root.setLevel(logging.ERROR)
    try:
        quantize_static(
            str(fp32),
            str(out),
            _RandomImages(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QUInt8,
            per_channel=False,
        )
    finally:
        root.setLevel(level)
        fp32.unlink(missing_ok=True)
    return out
