"""Help text and OPTIONS.md come from the table and stay in step with it."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

from controller.options import describe_options, render_markdown
from controller.options.table import OPTIONS

ROOT = Path(__file__).resolve().parent.parent


def _all_names() -> list[str]:
    names = [f"--{spec.name}" for spec in OPTIONS]
    return names + [sub for spec in OPTIONS for sub in spec.sub_options()]


def test_options_md_is_up_to_date() -> None:
    committed = (ROOT / "OPTIONS.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "run: python scripts/gen_options_doc.py"


def test_gen_script_check_mode() -> None:
    script = ROOT / "scripts" / "gen_options_doc.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_help_and_docs_list_every_option_and_sub_option() -> None:
    text, markdown = describe_options(), render_markdown()
    for name in _all_names():
        assert name in text, name
        assert name in markdown, name


def test_help_shows_type_allowed_default_and_where() -> None:
    text = describe_options()
    block = text[text.index("  --max_profiler_time") :].split("\n  --", 1)[0]
    assert "type: number" in block
    assert "allowed: a number > 0 and <= 600" in block
    assert "default: 600.0" in block
    assert "applies to: profile jobs" in block
    qnn = text[text.index("  --qnn_options") :].split("\n  --", 1)[0]
    assert "qnn_context_binary" in qnn  # the devicelab extension is documented
    threads = text[text.index("  number_of_threads=") :].split("\n  release_dynamic", 1)[0]
    assert "allowed: an integer -1 or >= 1" in threads
    assert "default: -1" in threads


def test_every_seed_default_appears_in_the_docs() -> None:
    markdown = render_markdown()
    for spec in OPTIONS:
        for sub in spec.sub_options().values():
            if isinstance(sub.default, str):
                row = next(line for line in markdown.splitlines() if f"`{sub.name}=" in line)
                assert f"| {sub.default} |" in row, sub.name


def test_docstring_examples_run() -> None:
    # The public functions document themselves with examples; keep them true.
    import controller.options as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"controller.options.{info.name}")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, info.name
    assert doctest.testmod(package).failed == 0
