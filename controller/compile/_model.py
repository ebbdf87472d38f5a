"""The model a compile starts from, with its type carried, never re-read from a name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from controller.options.table import TORCH_SOURCE_TYPES


@dataclass(frozen=True)
class SourceModel:
    """A model to compile: its file, its type and the name messages and the product use.

    A stored model's file is named by its hash (``controller/store``), so its type
    travels with it (the store's ``model_type``) instead of being re-derived from a
    suffix; ``_source.source_of_file`` makes one from a user's file.
    """

    path: Path
    model_type: str
    name: str

    @property
    def stem(self) -> str:
        """The name without its suffix: the product's name."""
        return Path(self.name).stem

    @property
    def is_torch(self) -> bool:
        """A PyTorch source (exported or converted with torch, never loaded as ONNX)."""
        return self.model_type in TORCH_SOURCE_TYPES.values()
