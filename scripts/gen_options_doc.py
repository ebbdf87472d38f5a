"""Write OPTIONS.md from the option tables.

The top-level options come from controller/options/table.py, the sub-options
from contract/option_tables.py (shared with the agent, which reads them too).

Run from anywhere: ``python scripts/gen_options_doc.py``. ``--check`` writes
nothing and fails when the committed OPTIONS.md is stale
(tests/test_options_docs.py checks the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

from _generated_doc import write_or_check  # scripts/ is sys.path[0] when run

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
    return write_or_check(
        OPTIONS_MD, lambda _current: render(), "OPTIONS.md", "scripts/gen_options_doc.py"
    )


if __name__ == "__main__":
    sys.exit(main())
