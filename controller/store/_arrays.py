"""Datasets and inference outputs: ``{input name: [one array per sample]}`` as ``.npz``.

The archive is a plain NumPy ``.npz`` (``np.load`` opens it) holding one entry
per array plus a JSON manifest with the input names in order, since names may
contain characters a zip entry name should not. Entries carry a fixed date, so
the same data always gives the same bytes and the same artifact.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from controller.errors import InternalError, UserError

Samples = dict[str, list[npt.NDArray[Any]]]

_MANIFEST = "manifest"
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def validate_samples(data: Mapping[str, Sequence[Any]], what: str = "dataset") -> None:
    """Raise ``UserError`` unless ``data`` maps names to equally long lists of arrays.

    Example:
        validate_samples({"image": [np.zeros((1, 3, 8, 8), np.float32)]})
    """
    if not isinstance(data, Mapping) or not data:
        raise UserError(f"{what} must be a non-empty dict of input name -> list of arrays")
    counts = {name: _check_input(name, samples, what) for name, samples in data.items()}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name}: {count}" for name, count in counts.items())
        raise UserError(f"{what}: every input needs the same number of samples ({listed})")


def _check_input(name: object, samples: object, what: str) -> int:
    if not isinstance(name, str) or not name:
        raise UserError(f"{what}: input names must be non-empty strings (got {name!r})")
    if isinstance(samples, np.ndarray) or not isinstance(samples, Sequence):
        raise UserError(f"{what}: input {name!r} must be a list of arrays, one per sample")
    if not samples:
        raise UserError(f"{what}: input {name!r} has no samples")
    for index, sample in enumerate(samples):
        if not isinstance(sample, np.ndarray):
            kind = type(sample).__name__
            raise UserError(f"{what}: input {name!r} sample {index} is a {kind}, not an array")
        if sample.dtype.hasobject:
            raise UserError(f"{what}: input {name!r} sample {index} has dtype object")
    return len(samples)


def encode(data: Mapping[str, Sequence[npt.NDArray[Any]]]) -> bytes:
    """The ``.npz`` bytes for validated ``data`` (deterministic)."""
    manifest = [[name, len(samples)] for name, samples in data.items()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        _write_entry(archive, _MANIFEST, np.frombuffer(json.dumps(manifest).encode(), np.uint8))
        for index, samples in enumerate(data.values()):
            for sample_index, sample in enumerate(samples):
                _write_entry(archive, f"{index}_{sample_index}", sample)
    return buffer.getvalue()


def _write_entry(archive: zipfile.ZipFile, key: str, array: npt.NDArray[Any]) -> None:
    info = zipfile.ZipInfo(f"{key}.npy", date_time=_FIXED_DATE)
    with archive.open(info, "w", force_zip64=True) as handle:
        np.lib.format.write_array(handle, array, allow_pickle=False)


def decode(path: Path) -> Samples:
    """Read an archive written by ``encode``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            manifest = json.loads(archive[_MANIFEST].tobytes())
            return {
                name: [archive[f"{index}_{sample}"] for sample in range(count)]
                for index, (name, count) in enumerate(manifest)
            }
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InternalError(f"{path}: not a devicelab array archive: {exc}") from exc
