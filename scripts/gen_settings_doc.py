"""Write the README's settings list from the settings tables.

The controller's table is controller/settings.py, the agent's agent/settings.py.
The list sits in README.md between the two marker comments ``DOC_BEGIN`` and
``DOC_END`` of controller/settings.py; the rest of the README is left as it is.

Run from anywhere: ``python scripts/gen_settings_doc.py``. ``--check`` writes
nothing and fails when the README's list is stale (tests/test_settings.py checks
the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the README is stale")
    args = parser.parse_args()
    current = README.read_text(encoding="utf-8")
    text = render(current)
    if args.check:
        if current != text:
            print("README.md's settings list is stale; run scripts/gen_settings_doc.py")
            return 1
        print("README.md's settings list is up to date")
        return 0
    README.write_text(text, encoding="utf-8")
    print(f"wrote the settings list in {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
