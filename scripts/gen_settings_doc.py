"""Write the README's settings list from the settings tables.

The controller's table is controller/settings.py, the agent's agent/settings.py.
The list sits in README.md between the two marker comments ``DOC_BEGIN`` and
``DOC_END`` of controller/settings.py; the rest of the README is left as it is.

Run from anywhere: ``python scripts/gen_settings_doc.py``. ``--check`` writes
nothing and fails when the README's list is stale (tests/test_settings.py checks
the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

from _generated_doc import write_or_check  # scripts/ is sys.path[0] when run

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def render(readme: str) -> str:
    """``readme`` with its settings block replaced by the one the tables produce today."""
    # Run as a script, only scripts/ is on sys.path; the package lives at the root.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from controller.settings import DOC_BEGIN, DOC_END, render_markdown

    before, found, rest = readme.partition(DOC_BEGIN)
    _, found_end, after = rest.partition(DOC_END + "\n")
    if not found or not found_end:
        raise SystemExit(f"README.md has no settings block ({DOC_BEGIN} ... {DOC_END})")
    return before + render_markdown() + after


def main() -> int:
    return write_or_check(
        README, render, "README.md's settings list", "scripts/gen_settings_doc.py"
    )


if __name__ == "__main__":
    sys.exit(main())
