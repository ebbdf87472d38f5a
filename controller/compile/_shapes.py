"""Input specs (the job's input shapes and types) and making a model's inputs static.

A compile job may give ``input_specs`` as ``{name: shape}`` or ``{name: (shape, dtype)}``,
the two forms the cloud service's API accepts. They describe the *source* model: every input
named, ranks equal, fixed dims kept, and one value per symbolic dim (``batch``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import onnx
from onnx import helper

from controller.errors import UserError
from controller.input_specs import parse_spec

#: ``{"image": (1, 3, 224, 224)}`` or ``{"image": ((1, 3, 224, 224), "float32")}``.
InputSpecs: TypeAlias = Mapping[str, tuple[tuple[int, ...], str]] | Mapping[str, tuple[int, ...]]
#: A dim as ONNX declares it: a size, a symbolic name, or unknown (None).
Dim: TypeAlias = int | str | None


@dataclass(frozen=True)
class InputSpec:
    """One input's shape and, when the job gave one, its numpy dtype name."""

    shape: tuple[int, ...]
    dtype: str | None = None


def normalize_specs(specs: InputSpecs) -> dict[str, InputSpec]:
    """Both accepted forms of ``input_specs`` as ``InputSpec``s.

    Raises:
        UserError: a dim that is not a positive integer, or an unknown dtype.

    Example:
        >>> normalize_specs({"x": (1, 3), "y": ((2,), "int64")})
        {'x': InputSpec(shape=(1, 3), dtype=None), 'y': InputSpec(shape=(2,), dtype='int64')}
    """
    return {name: _one_spec(name, value) for name, value in specs.items()}


def _one_spec(name: str, value: object) -> InputSpec:
    # One parser for both job kinds: the API checks a profile job's specs with it too.
    shape, dtype = parse_spec(name, value)
    return InputSpec(shape, dtype)


def model_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    """The graph's real inputs (old exporters list initializers as inputs too)."""
    initializers = {init.name for init in graph.initializer}
    return [vi for vi in graph.input if vi.name not in initializers]


def dims(value: onnx.ValueInfoProto) -> list[Dim]:
    """Declared dims of a tensor value, e.g. ``['batch', 3, 32, 32]``."""
    shape = value.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape.dim]


def numpy_dtype(value: onnx.ValueInfoProto) -> str:
    """numpy dtype name of a tensor value, e.g. ``'float32'``."""
    return np.dtype(helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)).name


def make_static(model: onnx.ModelProto, specs: InputSpecs) -> dict[str, tuple[int, ...]]:
    """Fix every input's shape to ``specs`` and re-infer the shapes downstream (in place).

    Returns:
        The input shapes now declared, by input name.

    Raises:
        UserError: naming the input that is missing, extra, of another rank or dtype,
            contradicts a fixed dim, or gives one symbolic dim two values.

    Example:
        >>> from controller.samples.onnx_models import build_tiny_cnn
        >>> make_static(build_tiny_cnn(dynamic_batch=True), {"image": (2, 3, 32, 32)})
        {'image': (2, 3, 32, 32)}
    """
    given = normalize_specs(specs)
    inputs = {vi.name: vi for vi in model_inputs(model.graph)}
    _check_names(given, inputs)
    params: dict[str, int] = {}
    for name, value in inputs.items():
        _check_input(name, value, given[name], params)
    for name, value in inputs.items():
        for dim, size in zip(value.type.tensor_type.shape.dim, given[name].shape, strict=True):
            dim.Clear()  # drops a dim_param together with the oneof
            dim.dim_value = size
    _reinfer(model, params)
    return {name: spec.shape for name, spec in given.items()}


def _check_names(given: Mapping[str, InputSpec], inputs: Mapping[str, object]) -> None:
    known = ", ".join(inputs) or "(none)"
    extra = [name for name in given if name not in inputs]
    if extra:
        raise UserError(
            f"input_specs names {extra}, but the model has no such input (inputs: {known})"
        )
    missing = [name for name in inputs if name not in given]
    if missing:
        raise UserError(f"input_specs gives no shape for input(s) {missing} (inputs: {known})")


def _check_input(
    name: str, value: onnx.ValueInfoProto, spec: InputSpec, params: dict[str, int]
) -> None:
    if not value.type.HasField("tensor_type"):
        raise UserError(f"input {name!r} is not a tensor; compile takes tensor inputs only")
    declared = dims(value)
    where = f"input_specs[{name!r}] = {spec.shape}"
    if len(declared) != len(spec.shape):
        raise UserError(f"{where}: the model's input {name!r} has rank {len(declared)} {declared}")
    if spec.dtype is not None and spec.dtype != numpy_dtype(value):
        raise UserError(
            f"{where}: dtype {spec.dtype}, but the model's input is {numpy_dtype(value)}"
        )
    for index, (dim, size) in enumerate(zip(declared, spec.shape, strict=True)):
        if isinstance(dim, int) and dim > 0 and dim != size:
            raise UserError(f"{where}: dim {index} is fixed at {dim} in the model")
        if isinstance(dim, str) and params.setdefault(dim, size) != size:
            raise UserError(f"{where}: dim {index} ({dim!r}) was given as {params[dim]} elsewhere")


def _reinfer(model: onnx.ModelProto, params: Mapping[str, int]) -> None:
    """Recompute the shapes downstream of the now static inputs (in place).

    Declared intermediate and output shapes may be stale (symbolic, or worse), so they
    are dropped and inferred again. Where inference cannot see through an op (a custom
    domain), an output keeps its declared shape with the fixed symbols substituted.
    """
    graph = model.graph
    del graph.value_info[:]
    saved = [onnx.ValueInfoProto.FromString(out.SerializeToString()) for out in graph.output]
    for out in graph.output:
        out.type.tensor_type.ClearField("shape")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        raise UserError(
            f"the model's shapes do not work out with these input_specs: {exc}"
        ) from exc
    model.CopyFrom(inferred)
    for out, old in zip(model.graph.output, saved, strict=True):
        if not out.type.tensor_type.HasField("shape"):
            out.CopyFrom(old)
            _substitute(out, params)


def _substitute(value: onnx.ValueInfoProto, params: Mapping[str, int]) -> None:
    for dim in value.type.tensor_type.shape.dim:
        if dim.HasField("dim_param") and dim.dim_param in params:
            size = params[dim.dim_param]
            dim.Clear()
            dim.dim_value = size


def require_static(model: onnx.ModelProto, why: str) -> None:
    """Raise unless every input has a fixed shape.

    Raises:
        UserError: naming the first dynamic input dim, and ``why`` static shapes are needed.
    """
    for value in model_inputs(model.graph):
        for index, dim in enumerate(dims(value)):
            if not (isinstance(dim, int) and dim > 0):
                label = f" ({dim!r})" if dim else ""
                raise UserError(
                    f"input {value.name!r} dim {index}{label} is dynamic; {why} needs static "
                    "shapes: give them with input_specs, e.g. "
                    f"{{{value.name!r}: ({', '.join(_example_dims(value))})}}"
                )


def _example_dims(value: onnx.ValueInfoProto) -> list[str]:
    return [str(d) if isinstance(d, int) and d > 0 else "1" for d in dims(value)]
