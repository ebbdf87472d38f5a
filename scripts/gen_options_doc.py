"""Write OPTIONS.md from the option tables.

The top-level options come from controller/options/table.py, the sub-options
from agent/option_tables.py (shared with the agent, which reads them too).

Run from anywhere: ``python scripts/gen_options_doc.py``. ``--check`` writes
nothing and fails when the committed OPTIONS.md is stale
(tests/test_options_docs.py checks the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPTIONS_MD = ROOT / "OPTIONS.md"


def render() -> str:
    """The OPTIONS.md text the table produces today."""
    # Run as a script, only scripts/ is on sys.path; the package lives at the root.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from controller.options import render_markdown

    return render_markdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if OPTIONS.md is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = OPTIONS_MD.read_text(encoding="utf-8") if OPTIONS_MD.exists() else ""
        if current != text:
            print("OPTIONS.md is stale; run scripts/gen_options_doc.py")
            return 1
        print("OPTIONS.md is up to date")
        return 0
    OPTIONS_MD.write_text(text, encoding="utf-8")
    print(f"wrote {OPTIONS_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
