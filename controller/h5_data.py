"""Datasets as ``.h5`` files, in the cloud client's layout, so files move between them.

Layout: one group ``data/<i>`` per input (in order), with attributes ``name``,
``order`` and ``batch_count``, holding one array ``batch_<j>`` per sample.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.h5"
    >>> write_h5({"image": [np.zeros((1, 3), np.float32)]}, path)
    >>> read_h5(path)["image"][0].shape
    (1, 3)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from controller.errors import UserError

DatasetEntries = dict[str, list[np.ndarray]]


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as exc:
        raise UserError(
            "reading or writing .h5 datasets needs h5py: pip install 'devicelab[controller]'"
        ) from exc
    return h5py


def write_h5(data: DatasetEntries, path: Path) -> None:
    """Write ``data`` (name -> list of arrays) to ``path`` in the client's layout."""
    with _h5py().File(path, "w") as h5f:
        entries_to_h5(data, h5f)


def entries_to_h5(data: DatasetEntries, h5f: Any) -> None:
    """Write ``data`` into an open ``h5py.File`` in the client's layout."""
    for order, (name, samples) in enumerate(data.items()):
        group = h5f.create_group(f"data/{order}")
        for index, array in enumerate(samples):
            group.create_dataset(f"batch_{index}", data=array, compression="gzip")
        group.attrs["name"] = name
        group.attrs["order"] = order
        group.attrs["batch_count"] = len(samples)


def read_h5(path: Path) -> DatasetEntries:
    """Read a dataset ``.h5`` file (the client's layout); UserError naming what is wrong."""
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as h5f:
            return entries_from_h5(h5f, str(path))
    except OSError as exc:
        raise UserError(f"{path}: cannot read as an .h5 dataset ({exc})") from exc


def entries_from_h5(h5f: Any, label: str = "dataset") -> DatasetEntries:
    """The entries of an open ``h5py.File`` (the client's layout); UserError if it has none."""
    groups = list(h5f["data"].values()) if "data" in h5f else []
    if not groups:
        raise UserError(f"{label}: no 'data' group with inputs (not a dataset file)")
    # Files without "order" (written from an unordered mapping) keep file order.
    groups.sort(key=lambda g: int(g.attrs.get("order", 0)))
    return {str(g.attrs["name"]): _samples(g) for g in groups}


def _samples(group: Any) -> list[np.ndarray]:
    count = int(group.attrs.get("batch_count", len(group)))
    return [np.asarray(group[f"batch_{index}"]) for index in range(count)]


def with_suffix(filename: str | Path, suffix: str) -> Path:
    """``filename`` with ``suffix`` appended unless it already ends with it (as the client)."""
    text = str(filename)
    return Path(text if text.endswith(suffix) else text + suffix)


def unique_path(path: Path) -> Path:
    """``path``, or ``stem_1.suffix``, ``stem_2.suffix``... if it exists (never overwrite)."""
    candidate, index = path, 0
    while candidate.exists():
        index += 1
        candidate = path.with_name(f"{path.stem}_{index}{path.suffix}")
    return candidate


def output_path(filename: str | Path, default_name: str, suffix: str) -> Path:
    """Where a download goes: ``default_name`` inside a directory, else ``filename`` + suffix."""
    target = Path(filename)
    return unique_path(target / default_name) if target.is_dir() else with_suffix(target, suffix)
