"""Which shared libraries a set of ELF files loads (``DT_NEEDED``, transitively)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile


def is_elf(path: Path) -> bool:
    """Does ``path`` start with the ELF magic? (Cheap: reads four bytes.)"""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def machine(path: Path) -> str:
    """The ELF's ``e_machine`` (``EM_AARCH64``, ``EM_QDSP6`` for Hexagon DSP code, ...)."""
    try:
        with path.open("rb") as handle:
            return str(ELFFile(handle).header["e_machine"])
    except ELFError:
        return ""


def needed(path: Path) -> list[str]:
    """The ``DT_NEEDED`` entries of one ELF file; [] for a static or non-ELF file."""
    try:
        with path.open("rb") as handle:
            elf = ELFFile(handle)
            section = elf.get_section_by_name(".dynamic")
            if not isinstance(section, DynamicSection):
                return []
            tags = section.iter_tags()
            return [str(tag.needed) for tag in tags if tag.entry.d_tag == "DT_NEEDED"]  # type: ignore[attr-defined]
    except ELFError:
        return []


def closure(roots: Iterable[Path], libraries: Mapping[str, Path]) -> tuple[set[str], set[str]]:
    """Library names reachable from ``roots`` through ``libraries`` (soname -> file).

    Returns (found, missing): sonames resolved in ``libraries``, and sonames no
    file provides (a wheel's vendored ``$ORIGIN`` libraries land here and are
    checked by the caller).
    """
    found: set[str] = set()
    missing: set[str] = set()
    queue = [name for root in roots for name in needed(root)]
    while queue:
        name = queue.pop()
        if name in found or name in missing:
            continue
        if name not in libraries:
            missing.add(name)
            continue
        found.add(name)
        queue.extend(needed(libraries[name]))
    return found, missing
