"""Write a generated document, or with ``--check`` fail when the committed one is stale.

Shared by ``gen_options_doc.py`` (OPTIONS.md) and ``gen_settings_doc.py`` (README's
settings list); each test runs its script with ``--check``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def write_or_check(path: Path, render: Callable[[str], str], what: str, script: str) -> int:
    """``render(current text)`` -> the wanted text; write it, or with ``--check`` compare.

    Returns the process exit code: 1 when ``--check`` finds ``what`` stale.
    """
    parser = argparse.ArgumentParser(description=f"Write {what} ({script}).")
    parser.add_argument("--check", action="store_true", help=f"fail if {what} is stale")
    args = parser.parse_args()
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    text = render(current)
    if args.check:
        if current != text:
            print(f"{what} is stale; run {script}")
            return 1
        print(f"{what} is up to date")
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {what}")
    return 0
