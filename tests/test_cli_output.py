"""What the CLI writes is readable by other programs: strict JSON, quiet when piped."""

from __future__ import annotations

import json
import subprocess
import sys

from controller.cli_commands import json_text


def test_json_output_writes_null_where_python_would_write_bare_nan() -> None:
    text = json_text({"median_us": float("nan"), "range": (1.0, float("inf")), "n": 0})
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"median_us": None, "range": [1.0, None], "n": 0}


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    # `true` exits before devicelab writes a byte: every write meets a closed pipe.
    done = subprocess.run(
        f"{sys.executable} -m controller.cli options | true",
        shell=True, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
