"""The ``sys.meta_path`` finder that serves ``qai_hub[.x]`` from ``controller.hub_shim.surface``.

The alias is the surface module itself (one object under two names), so state set
through ``qai_hub.hub._global_client`` is devicelab's, and ``mock.patch("qai_hub.x.y")``
patches what devicelab's surface uses.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

ALIAS = "qai_hub"
SURFACE = "controller.hub_shim.surface"


def _target(fullname: str) -> str | None:
    """``qai_hub.client`` -> ``controller.hub_shim.surface.client``; None for other names."""
    if fullname == ALIAS:
        return SURFACE
    if fullname.startswith(ALIAS + "."):
        return SURFACE + fullname[len(ALIAS) :]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Hands back the already imported surface module for an aliased name."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._own_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self._target)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the surface module was executed under its own name. The import
        system has just set ``__spec__`` to the alias's; give the module its own back."""
        module.__spec__ = self._own_spec


class QaiHubFinder(importlib.abc.MetaPathFinder):
    """Answers ``qai_hub`` and its submodules with devicelab's surface modules."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        name = _target(fullname)
        if name is None or importlib.util.find_spec(name) is None:
            return None  # e.g. qai_hub.something devicelab lacks: a plain ImportError
        module = importlib.import_module(name)
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(name), is_package=is_package)


_finder = QaiHubFinder()
# Real ``qai_hub`` modules imported before activation, put back by ``deactivate``.
_saved: dict[str, Any] = {}


def active() -> bool:
    """Whether ``import qai_hub`` resolves to devicelab in this process."""
    return _finder in sys.meta_path


def _loaded_names() -> list[str]:
    return [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]


def activate() -> None:
    """Make ``import qai_hub`` (and its submodules) resolve to devicelab in this process.

    A real ``qai_hub`` already imported is set aside (and restored by ``deactivate``).
    """
    if active():
        return
    for name in _loaded_names():
        _saved[name] = sys.modules.pop(name)
    sys.meta_path.insert(0, _finder)


def deactivate() -> None:
    """Undo ``activate``: ``import qai_hub`` finds what is installed again (if anything)."""
    if not active():
        return
    sys.meta_path.remove(_finder)
    for name in _loaded_names():
        del sys.modules[name]
    sys.modules.update(_saved)
    _saved.clear()


@contextmanager
def as_qai_hub() -> Iterator[ModuleType]:
    """``with as_qai_hub() as hub:`` — ``import qai_hub`` is devicelab inside the block."""
    was_active = active()
    activate()
    try:
        yield importlib.import_module(ALIAS)
    finally:
        if not was_active:
            deactivate()
