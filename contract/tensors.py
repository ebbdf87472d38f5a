"""A model's tensors as both sides describe them, and numpy arrays <-> ``Tensor`` messages
(C order, little-endian, the dtype by name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protos import agent_pb2 as pb


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of a model: as a runtime loaded it (the agent), as the host
    read it from the file (``controller/model_io.py``), as a job's events report it.

    The cloud client's ``TensorSpec`` (``controller/specs.py``) is the public form.
    """

    name: str
    shape: tuple[int, ...]  # -1 for a dimension that is still dynamic
    dtype: str  # numpy dtype name, e.g. "float32"
    # Of a per-tensor quantized tensor (real = (q - zero_point) * scale), where known.
    scale: float | None = None
    zero_point: float | None = None


def tensor_to_array(tensor: pb.Tensor) -> np.ndarray:
    """The array a ``Tensor`` carries (a copy: writable, owned)."""
    dtype = np.dtype(tensor.dtype).newbyteorder("<")
    return np.frombuffer(tensor.data, dtype=dtype).reshape(tuple(tensor.shape)).copy()


def array_to_tensor(name: str, array: np.ndarray) -> pb.Tensor:
    """``array`` as the ``Tensor`` named ``name``."""
    array = np.ascontiguousarray(array)
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return pb.Tensor(
        name=name, dtype=array.dtype.name, shape=list(array.shape), data=little.tobytes()
    )
