"""Small real ``.tflite`` models written from numpy, for tests and benchmarks.

No TensorFlow here: the flatbuffer is built with the object API generated from
the TFLite schema that ships inside ``ai_edge_litert``. Weights come from a
seeded numpy generator, so the same call writes the same bytes every time.

The graphs are float32 MobileNet-style stacks (conv, depthwise conv, pointwise
conv, global mean, fully connected, softmax) whose ops every CPU path of
LiteRT runs, both with XNNPACK and with the builtin kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
NUM_CLASSES = 10
_FILE_IDENTIFIER = b"TFL3"
_SCHEMA_VERSION = 3


@dataclass
class GraphBuilder:
    """Accumulates tensors, buffers and operators of a single-subgraph model."""

    rng: np.random.Generator
    tensors: list[schema.TensorT] = field(default_factory=list)
    # Buffer 0 is the empty sentinel every TFLite model starts with.
    buffers: list[schema.BufferT] = field(default_factory=lambda: [schema.BufferT()])
    operators: list[schema.OperatorT] = field(default_factory=list)
    opcodes: list[int] = field(default_factory=list)

    def activation(self, name: str, shape: tuple[int, ...]) -> int:
        """Add a float32 tensor computed at run time; return its index."""
        return self._tensor(name, shape, schema.TensorType.FLOAT32, buffer=0)

    def constant(self, name: str, values: np.ndarray) -> int:
        """Add a constant tensor whose bytes live in a new buffer."""
        buf = schema.BufferT()
        buf.data = np.frombuffer(np.ascontiguousarray(values).tobytes(), dtype=np.uint8)
        self.buffers.append(buf)
        kind = schema.TensorType.INT32 if values.dtype == np.int32 else schema.TensorType.FLOAT32
        return self._tensor(name, values.shape, kind, buffer=len(self.buffers) - 1)

    def weights(self, name: str, shape: tuple[int, ...], fan_in: int) -> int:
        """Add He-initialised float32 weights (keeps activations in a sane range)."""
        values = self.rng.standard_normal(shape).astype(np.float32) * np.sqrt(2.0 / fan_in)
        return self.constant(name, values.astype(np.float32))

    def bias(self, name: str, size: int) -> int:
        """Add a small float32 bias vector."""
        return self.constant(name, (self.rng.standard_normal(size) * 0.01).astype(np.float32))

    def op(
        self,
        code: int,
        inputs: list[int],
        outputs: list[int],
        options_type: int = 0,
        options: object = None,
    ) -> None:
        """Append one operator; operator codes are deduplicated."""
        if code not in self.opcodes:
            self.opcodes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex = self.opcodes.index(code)
        op.inputs, op.outputs = inputs, outputs
        op.builtinOptionsType, op.builtinOptions = options_type, options
        self.operators.append(op)

    def _tensor(self, name: str, shape: tuple[int, ...], kind: int, buffer: int) -> int:
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.type, tensor.buffer = name, list(shape), kind, buffer
        self.tensors.append(tensor)
        return len(self.tensors) - 1


def add_conv(
    g: GraphBuilder,
    x: int,
    shape: tuple[int, int, int, int],
    out_ch: int,
    kernel: int,
    stride: int,
    name: str,
) -> tuple[int, tuple[int, int, int, int]]:
    """CONV_2D with SAME padding and fused RELU; returns (tensor, shape)."""
    n, h, w, c = shape
    out_shape = (n, -(-h // stride), -(-w // stride), out_ch)
    weights = g.weights(f"{name}/weights", (out_ch, kernel, kernel, c), kernel * kernel * c)
    y = g.activation(f"{name}/relu", out_shape)
    opts = schema.Conv2DOptionsT()
    opts.padding, opts.strideW, opts.strideH = schema.Padding.SAME, stride, stride
    opts.fusedActivationFunction = schema.ActivationFunctionType.RELU
    inputs = [x, weights, g.bias(f"{name}/bias", out_ch)]
    g.op(schema.BuiltinOperator.CONV_2D, inputs, [y], schema.BuiltinOptions.Conv2DOptions, opts)
    return y, out_shape


def _depthwise(
    g: GraphBuilder, x: int, shape: tuple[int, int, int, int], stride: int, name: str
) -> tuple[int, tuple[int, int, int, int]]:
    """3x3 DEPTHWISE_CONV_2D (multiplier 1) with SAME padding and fused RELU."""
    n, h, w, c = shape
    out_shape = (n, -(-h // stride), -(-w // stride), c)
    weights = g.weights(f"{name}/weights", (1, 3, 3, c), 9)
    y = g.activation(f"{name}/relu", out_shape)
    opts = schema.DepthwiseConv2DOptionsT()
    opts.padding, opts.strideW, opts.strideH = schema.Padding.SAME, stride, stride
    opts.depthMultiplier = 1
    opts.fusedActivationFunction = schema.ActivationFunctionType.RELU
    inputs = [x, weights, g.bias(f"{name}/bias", c)]
    kind = schema.BuiltinOptions.DepthwiseConv2DOptions
    g.op(schema.BuiltinOperator.DEPTHWISE_CONV_2D, inputs, [y], kind, opts)
    return y, out_shape


def add_head(g: GraphBuilder, x: int, shape: tuple[int, int, int, int]) -> int:
    """Global MEAN over H and W, FULLY_CONNECTED to the classes, SOFTMAX."""
    n, _, _, c = shape
    axes = g.constant("head/mean_axes", np.array([1, 2], dtype=np.int32))
    pooled = g.activation("head/mean", (n, c))
    reducer = schema.ReducerOptionsT()
    reducer.keepDims = False
    g.op(
        schema.BuiltinOperator.MEAN,
        [x, axes],
        [pooled],
        schema.BuiltinOptions.ReducerOptions,
        reducer,
    )
    weights = g.weights("head/fc/weights", (NUM_CLASSES, c), c)
    logits = g.activation("head/fc/logits", (n, NUM_CLASSES))
    fc_inputs = [pooled, weights, g.bias("head/fc/bias", NUM_CLASSES)]
    fc_opts = schema.FullyConnectedOptionsT()
    g.op(
        schema.BuiltinOperator.FULLY_CONNECTED,
        fc_inputs,
        [logits],
        schema.BuiltinOptions.FullyConnectedOptions,
        fc_opts,
    )
    probs = g.activation(OUTPUT_NAME, (n, NUM_CLASSES))
    softmax = schema.SoftmaxOptionsT()
    softmax.beta = 1.0
    g.op(
        schema.BuiltinOperator.SOFTMAX,
        [logits],
        [probs],
        schema.BuiltinOptions.SoftmaxOptions,
        softmax,
    )
    return probs


def serialize_model(g: GraphBuilder, image: int, probs: int, description: str) -> bytes:
    """Pack the graph into a TFLite flatbuffer with a ``serving_default`` signature."""
    subgraph = schema.SubGraphT()
    subgraph.name = "main"
    subgraph.tensors, subgraph.operators = g.tensors, g.operators
    subgraph.inputs, subgraph.outputs = [image], [probs]
    signature = schema.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = "serving_default", 0
    signature.inputs = [_tensor_map(INPUT_NAME, image)]
    signature.outputs = [_tensor_map(OUTPUT_NAME, probs)]
    model = schema.ModelT()
    model.version, model.description = _SCHEMA_VERSION, description
    model.operatorCodes = [_opcode(code) for code in g.opcodes]
    model.subgraphs, model.buffers, model.signatureDefs = [subgraph], g.buffers, [signature]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def _tensor_map(name: str, index: int) -> schema.TensorMapT:
    entry = schema.TensorMapT()
    entry.name, entry.tensorIndex = name, index
    return entry


def _opcode(code: int) -> schema.OperatorCodeT:
    opcode = schema.OperatorCodeT()
    # Old readers look at the deprecated int8 field; codes < 127 must be set in both.
    opcode.deprecatedBuiltinCode = min(code, 127)
    opcode.builtinCode, opcode.version = code, 1
    return opcode


def write_cnn_tflite(
    path: Path,
    *,
    input_size: int = 32,
    stem_channels: int = 8,
    block_channels: tuple[int, ...] = (16,),
    seed: int = 0,
) -> Path:
    """Write a float32 MobileNet-style classifier to ``path``.

    The graph is ``image`` (1 x size x size x 3) -> CONV_2D 3x3 (stem, RELU) ->
    for each entry of ``block_channels``: DEPTHWISE_CONV_2D 3x3 (stride 2 after
    the first block) + CONV_2D 1x1 (RELU) -> MEAN over H, W -> FULLY_CONNECTED
    (10) -> SOFTMAX (``probabilities``).

    Args:
        path: Destination file; parent directories must exist.
        input_size: Height and width of the input image.
        stem_channels: Output channels of the first 3x3 convolution.
        block_channels: Output channels of each depthwise-separable block.
        seed: Seed of the weight generator (same seed, same file).

    Returns:
        ``path``, for chaining.
    """
    g = GraphBuilder(rng=np.random.default_rng(seed))
    shape = (1, input_size, input_size, 3)
    image = g.activation(INPUT_NAME, shape)
    x, shape = add_conv(g, image, shape, stem_channels, kernel=3, stride=1, name="stem")
    for i, channels in enumerate(block_channels):
        x, shape = _depthwise(g, x, shape, stride=1 if i == 0 else 2, name=f"block{i}/dw")
        x, shape = add_conv(g, x, shape, channels, kernel=1, stride=1, name=f"block{i}/pw")
    probs = add_head(g, x, shape)
    path.write_bytes(serialize_model(g, image, probs, f"devicelab sample cnn (seed {seed})"))
    return path


def write_tiny_cnn_tflite(path: Path) -> Path:
    """Write the tiny 6-op test model (1x32x32x3 ``image`` -> 10 ``probabilities``).

    Ops in order: CONV_2D, DEPTHWISE_CONV_2D, CONV_2D, MEAN, FULLY_CONNECTED,
    SOFTMAX. About 2 KB; one inference takes well under a millisecond.
    """
    return write_cnn_tflite(path)


def write_mobilenet_like_tflite(path: Path) -> Path:
    """Write a bigger sample (1x224x224x3, 7 depthwise-separable blocks, ~1 MB).

    Heavy enough that per-op timings dominate the fixed per-inference overhead,
    which is what benchmarks of the profiler need.
    """
    return write_cnn_tflite(
        path,
        input_size=224,
        stem_channels=32,
        block_channels=(64, 128, 128, 256, 256, 512, 512),
    )
