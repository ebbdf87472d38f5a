"""``controller.__all__`` is exactly the public API (as httpx's tests/test_exported_members.py):
a name imported into ``controller/__init__.py`` but missing from ``__all__``, or named
there but absent, fails here."""

from __future__ import annotations

import types

import controller as hub

# Public names that start with an underscore, as httpx keeps its __version__.
_PUBLIC_DUNDERS = {"__version__"}


def test_all_names_exactly_the_public_members() -> None:
    public = {
        name
        for name, value in vars(hub).items()
        if (not name.startswith("_") or name in _PUBLIC_DUNDERS)
        and not isinstance(value, types.ModuleType)  # submodules bound by their import
    }
    assert hub.__all__ == sorted(hub.__all__)
    assert len(hub.__all__) == len(set(hub.__all__))
    assert set(hub.__all__) == public
