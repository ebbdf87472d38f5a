"""Graph edits of a compile job: output names, channel-last I/O, what kind of model it is."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

import onnx
from onnx import helper

from controller.compile._shapes import dims, model_inputs
from controller.errors import UserError

#: Ops that mean the model is already quantized (QDQ or QOperator format).
_QUANTIZED_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "MatMulInteger", "ConvInteger"})
_DEFAULT_OUTPUT = re.compile(r"output_(0|[1-9][0-9]*)")


def is_quantized(model: onnx.ModelProto) -> bool:
    """True when the graph holds quantization ops (QDQ pairs, ``QLinear*``, ``*Integer``).

    Example:
        >>> from controller.samples.onnx_models import build_tiny_cnn
        >>> is_quantized(build_tiny_cnn())
        False
    """
    return any(
        node.op_type in _QUANTIZED_OPS or node.op_type.startswith("QLinear")
        for node in model.graph.node
    )


def _subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    for attribute in node.attribute:
        if attribute.type == onnx.AttributeProto.GRAPH:
            yield attribute.g
        elif attribute.type == onnx.AttributeProto.GRAPHS:
            yield from attribute.graphs


def tensor_names(graph: onnx.GraphProto) -> set[str]:
    """Every value name the graph defines or uses (subgraphs' outer references included)."""
    names = {vi.name for vi in [*graph.input, *graph.output, *graph.value_info]}
    names.update(init.name for init in graph.initializer)
    for node in graph.node:
        names.update(n for n in [*node.input, *node.output] if n)
        for sub in _subgraphs(node):
            names.update(tensor_names(sub))
    return names


def rename_tensors(graph: onnx.GraphProto, mapping: Mapping[str, str]) -> None:
    """Rename values everywhere they appear, subgraphs included (in place)."""
    for node in graph.node:
        node.input[:] = [mapping.get(name, name) for name in node.input]
        node.output[:] = [mapping.get(name, name) for name in node.output]
        for sub in _subgraphs(node):
            rename_tensors(sub, mapping)
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = mapping.get(value.name, value.name)


def rename_outputs(graph: onnx.GraphProto, names: Sequence[str]) -> dict[str, str]:
    """Apply ``--output_names``: output ``i`` is renamed to ``names[i]`` (in place).

    Returns:
        old name -> new name, for the outputs whose name changed.

    Raises:
        UserError: not one name per output, a name twice, or a name another tensor has.

    Example:
        >>> from controller.samples.onnx_models import build_tiny_cnn
        >>> model = build_tiny_cnn()
        >>> rename_outputs(model.graph, ["scores"]), model.graph.output[0].name
        ({'probs': 'scores'}, 'scores')
    """
    outputs = [out.name for out in graph.output]
    if len(names) != len(outputs):
        raise UserError(
            f"--output_names: {len(names)} name(s) given but the model has {len(outputs)} "
            f"output(s) ({', '.join(outputs)}); give one name per output"
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UserError(f"--output_names: {twice} given more than once")
    mapping = {old: new for old, new in zip(outputs, names, strict=True) if old != new}
    taken = sorted(set(mapping.values()) & (tensor_names(graph) - set(mapping)))
    if taken:
        raise UserError(f"--output_names: {taken} already name(s) another tensor of the model")
    _rename_graph_outputs(graph, mapping)
    return mapping


def _rename_graph_outputs(graph: onnx.GraphProto, mapping: Mapping[str, str]) -> None:
    # An output that is also an input or initializer cannot be renamed at its source
    # without renaming the input too: it gets an Identity to the new name instead.
    fixed = {vi.name for vi in graph.input} | {init.name for init in graph.initializer}
    through = {old: new for old, new in mapping.items() if old in fixed}
    rename_tensors(graph, {old: new for old, new in mapping.items() if old not in fixed})
    for old, new in through.items():
        graph.node.append(helper.make_node("Identity", [old], [new], name=f"rename_{new}"))
        for out in graph.output:
            if out.name == old:
                out.name = new


def resolve_output_names(graph: onnx.GraphProto, names: Sequence[str], option: str) -> list[str]:
    """Output names as the user wrote them: real names, or the defaults ``output_<i>``.

    Raises:
        UserError: a name that is neither.
    """
    outputs = [out.name for out in graph.output]
    resolved = []
    for name in names:
        match = _DEFAULT_OUTPUT.fullmatch(name)
        if name in outputs:
            resolved.append(name)
        elif match and int(match[1]) < len(outputs):
            resolved.append(outputs[int(match[1])])
        else:
            defaults = ", ".join(f"output_{i}" for i in range(len(outputs)))
            raise UserError(
                f"{option}: {name!r} is not an output of the model (outputs: "
                f"{', '.join(outputs)}; or by position: {defaults})"
            )
    return resolved


def make_channel_last(
    model: onnx.ModelProto, inputs: Sequence[str], outputs: Sequence[str]
) -> None:
    """Let the model consume ``inputs`` and produce ``outputs`` channel-last (in place).

    A Transpose after each such input (NHWC -> NCHW) and before each such output
    (NCHW -> NHWC) keeps the body unchanged; on QNN's HTP, which works in NHWC, these
    cancel against the transposes ONNX Runtime's layout transformation inserts. The
    same edit as ONNX Runtime's QNN pre-processing tool (``update_io_to_channel_last``),
    made with ``onnx`` alone: the base install has no ONNX Runtime.

    Raises:
        UserError: an unknown name, or a tensor of rank below 3 (it has no channel axis).
    """
    graph = model.graph
    _check_channel_last(model_inputs(graph), inputs, "--force_channel_last_input")
    _check_channel_last(list(graph.output), outputs, "--force_channel_last_output")
    taken = {v.name for v in [*graph.input, *graph.output, *graph.value_info]}
    taken |= {name for node in graph.node for name in [*node.input, *node.output]}
    inner = {name: _unused(f"{name}_channel_first", taken) for name in [*inputs, *outputs]}
    for node in graph.node:
        node.input[:] = [inner.get(name, name) for name in node.input]
        node.output[:] = [inner.get(name, name) for name in node.output]
    values = {v.name: v for v in [*graph.input, *graph.output]}
    heads = [_transpose(name, inner[name], _to_first(values[name])) for name in inputs]
    tails = [_transpose(inner[name], name, _to_last(values[name])) for name in outputs]
    nodes = [*heads, *graph.node, *tails]  # heads first, tails last: still topological
    del graph.node[:]
    graph.node.extend(nodes)


def _unused(stem: str, taken: set[str]) -> str:
    name, index = stem, 0
    while name in taken:
        index += 1
        name = f"{stem}_{index}"
    taken.add(name)
    return name


def _transpose(source: str, target: str, perm: list[int]) -> onnx.NodeProto:
    return helper.make_node("Transpose", [source], [target], name=f"channel_last_{target}",
                            perm=perm)  # fmt: skip


def _to_first(value: onnx.ValueInfoProto) -> list[int]:
    """Make ``value`` (a graph input) channel-last; the perm back to channel-first."""
    rank = _rotate(value)
    return [0, rank - 1, *range(1, rank - 1)]


def _to_last(value: onnx.ValueInfoProto) -> list[int]:
    """Make ``value`` (a graph output) channel-last; the perm from channel-first to it."""
    rank = _rotate(value)
    return [0, *range(2, rank), 1]


def _rotate(value: onnx.ValueInfoProto) -> int:
    """Move dim 1 (channels) of ``value``'s shape to the end; return the rank."""
    shape = value.type.tensor_type.shape.dim
    copies = [onnx.TensorShapeProto.Dimension() for _ in shape]
    for copy, dim in zip(copies, shape, strict=True):
        copy.CopyFrom(dim)
    for dim, source in zip(shape, [copies[0], *copies[2:], copies[1]], strict=True):
        dim.CopyFrom(source)
    return len(shape)


def _check_channel_last(
    values: list[onnx.ValueInfoProto], names: Sequence[str], option: str
) -> None:
    by_name = {value.name: value for value in values}
    for name in names:
        if name not in by_name:
            raise UserError(f"{option}: the model has no {name!r} (it has: {', '.join(by_name)})")
        shape = dims(by_name[name])
        if len(shape) < 3:
            raise UserError(
                f"{option}: {name!r} has rank {len(shape)} {shape}; channel-last needs rank >= 3 "
                "(N, C, spatial...)"
            )
