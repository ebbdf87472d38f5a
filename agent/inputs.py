"""Input tensors for profiling: shapes from the job, values made up.

Profiling measures speed, so values only need the right dtype and a sane range;
they are seeded so two runs of the same job feed the same data.
"""

from __future__ import annotations

import numpy as np

# numpy 2 imports numpy.random on first use: ~25 ms that would fall between the
# warm load and the warm-up of every job. Imported with the job code instead
# (agent/standby.py starts a job's process with it, ahead of the job).
import numpy.random  # noqa: F401

from agent.errors import InvalidOptionError
from contract.tensors import TensorInfo


def resolve_shape(spec: TensorInfo, overrides: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The concrete shape of one input; dynamic dims must come from ``overrides``."""
    shape = overrides.get(spec.name, spec.shape)
    if any(dim < 0 for dim in shape):
        raise InvalidOptionError(
            f"input '{spec.name}' has dynamic shape {list(spec.shape)}; "
            "give a concrete shape in the job's input specs"
        )
    return tuple(int(d) for d in shape)


def make_feeds(
    specs: list[TensorInfo], overrides: dict[str, tuple[int, ...]], seed: int = 0
) -> dict[str, np.ndarray]:
    """Deterministic random inputs matching ``specs``.

    Example:
        make_feeds([TensorInfo("image", (1, 3, 8, 8), "float32")], {})["image"].shape
        # (1, 3, 8, 8)
    """
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in specs:
        shape = resolve_shape(spec, overrides)
        dtype = np.dtype(spec.dtype)
        if dtype.kind == "f":
            feeds[spec.name] = rng.random(shape, dtype=np.float32).astype(dtype)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            low, high = max(int(info.min), 0), min(int(info.max), 127)
            feeds[spec.name] = rng.integers(low, high + 1, size=shape, dtype=dtype)
        elif dtype.kind == "b":
            feeds[spec.name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            raise InvalidOptionError(f"input '{spec.name}' has unsupported dtype {spec.dtype}")
    return feeds
