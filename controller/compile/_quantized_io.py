"""``--quantize_io``: keep a QDQ model's inputs and outputs quantized.

ONNX Runtime's quantizer always leaves float I/O: a QuantizeLinear after each input
and a DequantizeLinear before each output. Removing those boundary nodes and
retyping the graph I/O to the quantized type gives a model that takes and returns
quantized tensors; the scale and zero point a caller needs are returned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from controller.compile._graph import rename_tensors, tensor_names
from controller.compile._shapes import model_inputs
from controller.errors import UserError


@dataclass(frozen=True)
class QuantizedIo:
    """A graph input or output now carried quantized: ``real = (q - zero_point) * scale``."""

    name: str
    kind: str  # "input" or "output"
    dtype: str  # numpy name, e.g. "uint8"
    scale: float | list[float]
    zero_point: int | list[int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def keep_io_quantized(model: onnx.ModelProto) -> list[QuantizedIo]:
    """Remove the boundary Q/DQ nodes and retype the graph I/O (in place).

    Raises:
        UserError: an input also used unquantized, or an output not produced by a
            DequantizeLinear: such a tensor cannot be carried quantized.

    Example:
        >>> import tempfile, pathlib, onnx
        >>> from controller.samples.onnx_models import write_tiny_cnn_qdq_onnx
        >>> path = write_tiny_cnn_qdq_onnx(pathlib.Path(tempfile.mkdtemp()) / "q.onnx")
        >>> [(io.name, io.dtype) for io in keep_io_quantized(onnx.load(path))]
        [('image', 'uint8'), ('probs', 'uint8')]
    """
    constants = {init.name: init for init in model.graph.initializer}
    kept = [_strip_input(model.graph, vi, constants) for vi in model_inputs(model.graph)]
    kept += [_strip_output(model.graph, vi, constants) for vi in model.graph.output]
    # value_info of removed tensors (and stale types of the renamed ones) must go.
    io_names = {io.name for io in kept}
    live = {name for node in model.graph.node for name in [*node.input, *node.output]}
    infos = [vi for vi in model.graph.value_info if vi.name in live and vi.name not in io_names]
    del model.graph.value_info[:]
    model.graph.value_info.extend(infos)
    return kept


def _strip_input(
    graph: onnx.GraphProto, value: onnx.ValueInfoProto, constants: dict[str, onnx.TensorProto]
) -> QuantizedIo:
    users = [node for node in graph.node if value.name in node.input]
    others = sorted(
        {n.op_type for n in users if n.op_type != "QuantizeLinear" or n.input[0] != value.name}
    )
    if not users or others:
        raise UserError(
            f"--quantize_io: input {value.name!r} is used unquantized (by {others or 'nothing'}), "
            "so it cannot be kept quantized"
        )
    params = {_params(node, constants) for node in users}
    if len(params) > 1:
        raise UserError(
            f"--quantize_io: input {value.name!r} is quantized in {len(params)} different ways"
        )
    for node in users:
        graph.node.remove(node)
        rename_tensors(graph, {node.output[0]: value.name})
    return _retype(value, "input", users[0], constants)


def _strip_output(
    graph: onnx.GraphProto, value: onnx.ValueInfoProto, constants: dict[str, onnx.TensorProto]
) -> QuantizedIo:
    producer = next((node for node in graph.node if value.name in node.output), None)
    if producer is None or producer.op_type != "DequantizeLinear":
        made_by = producer.op_type if producer else "no node"
        raise UserError(
            f"--quantize_io: output {value.name!r} is produced by {made_by}, not by a "
            "DequantizeLinear, so it cannot be returned quantized"
        )
    quantized, name = producer.input[0], value.name
    if any(name in node.input for node in graph.node):
        # Nodes inside the graph still read the float value: the DQ stays for them.
        rename_tensors(graph, {name: _unique(graph, f"{name}_dequantized")})
        value.name = name  # rename_tensors renamed the graph output as well
    else:
        graph.node.remove(producer)
    rename_tensors(graph, {quantized: name})
    return _retype(value, "output", producer, constants)


def _unique(graph: onnx.GraphProto, base: str) -> str:
    names, candidate, index = tensor_names(graph), base, 0
    while candidate in names:
        index += 1
        candidate = f"{base}_{index}"
    return candidate


def _params(node: onnx.NodeProto, constants: dict[str, onnx.TensorProto]) -> tuple[bytes, ...]:
    return tuple(
        constants[name].SerializeToString() for name in node.input[1:] if name in constants
    )


def _retype(
    value: onnx.ValueInfoProto,
    kind: str,
    node: onnx.NodeProto,
    constants: dict[str, onnx.TensorProto],
) -> QuantizedIo:
    scale = numpy_helper.to_array(_constant(constants, node.input[1], value.name))
    zero_name = node.input[2] if len(node.input) > 2 else ""
    zero_tensor = _constant(constants, zero_name, value.name) if zero_name else None
    zero = numpy_helper.to_array(zero_tensor) if zero_tensor is not None else None
    elem_type = zero_tensor.data_type if zero_tensor is not None else _output_dtype(node)
    value.type.tensor_type.elem_type = elem_type
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).name
    zero_point = zero.tolist() if zero is not None else 0
    return QuantizedIo(value.name, kind, dtype, scale.tolist(), zero_point)


def _constant(constants: dict[str, onnx.TensorProto], name: str, io: str) -> onnx.TensorProto:
    if name not in constants:
        raise UserError(
            f"--quantize_io: the quantization parameter {name!r} of {io!r} is not an initializer"
        )
    return constants[name]


def _output_dtype(node: onnx.NodeProto) -> int:
    # Without a zero point, opset 21's output_dtype attribute decides; the default is uint8.
    for attribute in node.attribute:
        if attribute.name == "output_dtype" and attribute.i:
            return int(attribute.i)
    return onnx.TensorProto.UINT8
