"""Tensor specs in the cloud client's shapes: ``InputSpecs``, ``TensorSpec``, ``IOSpec``.

``InputSpecs`` is what scripts pass as ``input_specs=``: name -> shape, or
name -> (shape, dtype). ``Model.input_spec`` / ``output_spec`` are ``IOSpec``:
graph name (None for a single-graph model) -> list of ``TensorSpec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from contract.tensors import TensorInfo

InputSpecs = Mapping[str, tuple[int, ...] | tuple[tuple[int, ...], str]]


class TensorSpec(NamedTuple):
    """One tensor of a model: name, dtype, shape (-1 for a dynamic dimension)."""

    name: str
    dtype: str
    shape: tuple[int, ...] | None = None
    scale: float | None = None
    zero_point: float | None = None


IOSpec = dict[str | None, list[TensorSpec]]


def io_spec(specs: list[TensorInfo]) -> IOSpec:
    """The client's ``IOSpec`` for the tensors devicelab read from a model file."""
    return {
        None: [TensorSpec(s.name, s.dtype, tuple(s.shape), s.scale, s.zero_point) for s in specs]
    }


def input_specs(specs: list[TensorInfo]) -> dict[str, tuple[tuple[int, ...], str]]:
    """``InputSpecs`` (name -> (shape, dtype)) for a model's inputs."""
    return {s.name: (tuple(s.shape), s.dtype) for s in specs}
