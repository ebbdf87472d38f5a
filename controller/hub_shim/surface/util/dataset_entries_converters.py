"""``qai_hub.util.dataset_entries_converters``: datasets to and from open ``h5py.File`` objects,
in the client's layout (``controller/h5_data.py`` holds it)."""

from __future__ import annotations

from typing import Any

from controller.h5_data import DatasetEntries, entries_from_h5, entries_to_h5


def dataset_entries_to_h5(data: DatasetEntries, h5f: Any) -> Any:
    """Write ``data`` (name -> list of arrays) into the open file ``h5f``; returns it."""
    entries_to_h5(data, h5f)
    return h5f


def h5_to_dataset_entries(h5f: Any) -> DatasetEntries:
    """The dataset entries stored in the open file ``h5f``."""
    return entries_from_h5(h5f)


__all__ = ["dataset_entries_to_h5", "h5_to_dataset_entries"]
