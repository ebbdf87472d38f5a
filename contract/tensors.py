"""numpy arrays <-> ``Tensor`` messages: C order, little-endian, the dtype by name."""

from __future__ import annotations

import numpy as np

from protos import agent_pb2 as pb


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
