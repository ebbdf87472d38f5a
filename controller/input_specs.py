"""A job's ``input_specs``, checked against the model at submit and stored.

Scripts pass ``input_specs`` as the client does: name -> shape, or name -> (shape,
dtype). Every mistake in them is refused here, before a job exists, naming the
input, what was given and what the model takes: the device used to find some of
them only after the push (a wrong rank), and to ignore others (a TFLite spec
naming no input of the model ran anyway; ``int8`` for a float input was dropped).

Where this host cannot read the model's inputs (a QNN context binary without the
QNN system library, a PyTorch source), only the form is checked and the device's
runtime or the compiler remains the judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from contract.tensors import TensorInfo
from controller.errors import UserError

#: name -> [shape, dtype], as the job's spec stores it (JSON: lists, not tuples).
StoredSpecs = dict[str, list[Any]]

_FORM = "give a shape of positive integers, e.g. (1, 3, 224, 224), or (shape, dtype)"


def check_input_specs(
    model: str, inputs: list[TensorInfo] | None, specs: object, *, every_input: bool = False
) -> StoredSpecs:
    """``specs`` as stored, after checking them against the model's ``inputs``.

    Args:
        model: the model's name, for the messages.
        inputs: the model's inputs as read on this host, or None when unreadable.
        specs: what the script passed as ``input_specs`` (None: nothing given).
        every_input: each input must be named (a compile job fixes all shapes);
            otherwise only the dynamic ones must be.

    Raises:
        UserError: not a mapping; a shape that is not positive integers; an unknown
            dtype; a name the model lacks; another rank, dtype or fixed dim than the
            model's; or a dynamic input given no shape.

    Example:
        >>> spec = TensorInfo("image", (-1, 3), "float32")
        >>> check_input_specs("m.onnx", [spec], {"image": (2, 3)})
        {'image': [[2, 3], 'float32']}
    """
    if specs is None:
        specs = {}
    if not isinstance(specs, Mapping):
        raise UserError(
            f"input_specs must map input names to shapes, e.g. {{'image': (1, 3, 224, 224)}}; "
            f"got a {type(specs).__name__}"
        )
    by_name = {spec.name: spec for spec in inputs or []}
    given = {
        str(name): parse_spec(str(name), value, _takes(model, by_name.get(str(name))))
        for name, value in specs.items()
    }
    if inputs is None:
        return {name: [list(shape), dtype or "float32"] for name, (shape, dtype) in given.items()}
    _check_names(model, given, by_name, every_input)
    stored: StoredSpecs = {}
    for name, (shape, dtype) in given.items():
        _check_against(model, name, shape, dtype, by_name[name])
        stored[name] = [list(shape), dtype or _known(by_name[name].dtype)]
    return stored


def _takes(model: str, spec: TensorInfo | None) -> str:
    """What the model takes for one input, for a message ('' when unknown)."""
    if spec is None:
        return ""
    return f"{model}'s input {spec.name!r} is {_shape_text(spec.shape)} {spec.dtype}"


def parse_spec(name: str, value: object, takes: str = "") -> tuple[tuple[int, ...], str | None]:
    """(shape, numpy dtype name or None) of one value in either of the client's two forms.

    Args:
        name: the input's name, for the message.
        value: ``(1, 3, 224, 224)`` or ``((1, 3, 224, 224), "float32")``.
        takes: what the model takes for this input, appended to a message when known.

    Raises:
        UserError: a shape that is not positive integers, or an unknown dtype.
    """
    hint = f"; {takes}" if takes else ""
    shape: object = value
    dtype: object = None
    if isinstance(value, Sequence) and len(value) == 2 and isinstance(value[1], str):
        shape, dtype = value
    if isinstance(shape, str) or not isinstance(shape, Sequence) or not shape:
        raise UserError(f"input_specs[{name!r}] = {value!r}: {_FORM}{hint}")
    for index, dim in enumerate(shape):
        # bool is an int subclass; True is no dimension. 0 is no batch size.
        if not isinstance(dim, int | np.integer) or isinstance(dim, bool) or int(dim) < 1:
            raise UserError(
                f"input_specs[{name!r}] = {value!r}: dim {index} is {dim!r}; {_FORM}{hint}"
            )
    dims = tuple(int(d) for d in shape)
    return dims, None if dtype is None else _dtype(name, str(dtype), hint)


def _dtype(name: str, text: str, hint: str) -> str:
    try:
        return np.dtype(text).name
    except TypeError as exc:
        raise UserError(
            f"input_specs[{name!r}]: unknown dtype {text!r} (e.g. 'float32', 'int64', "
            f"'uint8'){hint}"
        ) from exc


def _known(dtype: str) -> str:
    return "float32" if dtype == "unknown" else dtype


def _check_names(
    model: str,
    given: Mapping[str, object],
    inputs: Mapping[str, TensorInfo],
    every_input: bool,
) -> None:
    takes = ", ".join(f"{s.name} {_shape_text(s.shape)} {s.dtype}" for s in inputs.values())
    extra = [name for name in given if name not in inputs]
    if extra:
        raise UserError(
            f"input_specs names {extra}, but {model} has no such input (it takes {takes})"
        )
    needed = [
        s.name for s in inputs.values() if s.name not in given and (every_input or -1 in s.shape)
    ]
    if needed:
        why = "" if every_input else " (dynamic)"
        example = ", ".join(
            f"{name!r}: ({', '.join(str(d if d > 0 else 1) for d in inputs[name].shape)})"
            for name in needed
        )
        raise UserError(
            f"{model}: input_specs gives no shape for input(s) {needed}{why}; it takes {takes}; "
            f"e.g. input_specs={{{example}}}"
        )


def _check_against(
    model: str, name: str, shape: tuple[int, ...], dtype: str | None, spec: TensorInfo
) -> None:
    where = f"input_specs[{name!r}] = {list(shape)}" + (f", {dtype!r}" if dtype else "")
    takes = _takes(model, spec)
    if len(shape) != len(spec.shape):
        raise UserError(f"{where}: rank {len(shape)}, but {takes} (rank {len(spec.shape)})")
    if dtype is not None and spec.dtype != "unknown" and dtype != spec.dtype:
        raise UserError(f"{where}: dtype {dtype}, but {takes}")
    for index, (want, got) in enumerate(zip(spec.shape, shape, strict=True)):
        if want > 0 and want != got:
            raise UserError(f"{where}: dim {index} is {got}, but {takes} (fixed at {want})")


def _shape_text(shape: tuple[int, ...]) -> str:
    """A model's shape as text, '?' for a dynamic dim: ``[?, 3, 32, 32]``."""
    return "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"
