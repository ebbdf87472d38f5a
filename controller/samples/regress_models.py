"""Model pairs of known cost difference, for regression tests and ``scripts/bench_regress.py``.

A stack of 3x3 convolutions (``conv0`` .. ``conv{depth-1}``, each followed by a ReLU)
on a fixed-size image, then pooling and a classifier. One layer can be made
*wider*: a larger kernel (``kernels={3: (1, 5)}``; "same" padding), which adds work
to that layer alone (a kh x kw kernel does kh*kw/9 of a 3x3's multiply-adds) and
keeps every tensor shape and node name, so the rest of the network runs as before.
(Lowering a layer's ``group`` count was tried first: onnxruntime's grouped
convolutions here cost about the same at 1, 2, 8 or 32 groups, so it is no knob.)
Weights come from a fixed seed: the same arguments write byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_NAME, OUTPUT_NAME = "image", "probs"
_SEED = 20261130
_OPSET = 17


def conv_stack(
    *,
    channels: int = 32,
    size: int = 32,
    depth: int = 6,
    kernels: dict[int, tuple[int, int]] | None = None,
) -> onnx.ModelProto:
    """The network; ``kernels`` maps a conv's index to its kernel (default 3x3)."""
    kernels = kernels or {}
    rng = np.random.default_rng(_SEED)
    nodes, inits = [], []
    current = INPUT_NAME
    for i in range(depth):
        kh, kw = kernels.get(i, (3, 3))
        weight = rng.standard_normal((channels, channels, kh, kw)) / np.sqrt(kh * kw * channels)
        inits += [
            numpy_helper.from_array(weight.astype(np.float32), f"conv{i}_w"),
            numpy_helper.from_array(np.zeros(channels, np.float32), f"conv{i}_b"),
        ]
        nodes += [
            helper.make_node(
                "Conv", [current, f"conv{i}_w", f"conv{i}_b"], [f"c{i}"], name=f"conv{i}",
                kernel_shape=[kh, kw], pads=_same_pads(kh, kw),
            ),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}"),
        ]  # fmt: skip
        current = f"r{i}"
    inits += [
        numpy_helper.from_array(rng.standard_normal((10, channels)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(np.zeros(10, np.float32), "fc_b"),
    ]
    nodes += [
        helper.make_node("GlobalAveragePool", [current], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], [OUTPUT_NAME], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_stack",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, channels, size, size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 8  # readable by every onnxruntime the agent may run
    onnx.checker.check_model(model)
    return model


def _same_pads(kh: int, kw: int) -> list[int]:
    """ONNX pads (top, left, bottom, right) that keep the image size for any kernel."""
    return [(kh - 1) // 2, (kw - 1) // 2, kh // 2, kw // 2]


def write_conv_stack(path: str | Path, **kwargs: object) -> Path:
    """Write ``conv_stack(**kwargs)`` to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(conv_stack(**kwargs), str(path))  # type: ignore[arg-type]
    return path


def write_conv_stack_tflite(
    path: str | Path,
    *,
    channels: int = 16,
    size: int = 32,
    depth: int = 16,
    kernels: dict[int, int] | None = None,
) -> Path:
    """The same idea as ``conv_stack`` as a ``.tflite`` (NHWC, SAME padding, fused RELU):
    ``kernels`` maps a conv's index to its square kernel size (default 3).

    LiteRT runs it with ``--tflite_options number_of_threads=1``, which the ONNX
    Runtime path has no option for: one thread, so a block's speed does not hang on
    whether a second core happened to be free (``scripts/bench_regress.py`` says why
    that matters). Built with ``controller/samples/tflite_models.py``'s graph builder.
    """
    from controller.samples import tflite_models as tfl

    kernels = kernels or {}
    g = tfl.GraphBuilder(rng=np.random.default_rng(_SEED))
    shape = (1, size, size, channels)
    image = g.activation(tfl.INPUT_NAME, shape)
    x = image
    for i in range(depth):
        x, shape = tfl.add_conv(g, x, shape, channels, kernel=kernels.get(i, 3), stride=1,
                             name=f"conv{i}")  # fmt: skip
    probs = tfl.add_head(g, x, shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tfl.serialize_model(g, image, probs, "devicelab regression conv stack"))
    return path
