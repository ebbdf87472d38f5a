"""What several ``devicelab`` commands share: their common arguments, the model and
device they name, JSON output, and the profile printout."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import controller as hub
from controller.errors import UserError
from controller.profile_result import ProfileResult

# Exit codes scripts can trust (``controller/cli/__init__.py`` says what each means).
EXIT_OK, EXIT_JOB_FAILED, EXIT_USER_ERROR, EXIT_INTERNAL = 0, 1, 2, 3


def add_job_options(parser: argparse.ArgumentParser, device_help: str) -> None:
    """``--device --options --quiet --json --simulate``: the arguments of a job command."""
    parser.add_argument("--device", default="", help=device_help)
    parser.add_argument("--options", default="", help='job options, e.g. "--compute_unit cpu"')
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--json", metavar="FILE", help="write the result as JSON")
    add_simulate(parser)


def add_simulate(parser: argparse.ArgumentParser) -> None:
    """``--simulate``: read by ``controller.cli.main`` as DEVICELAB_SIMULATE=1 would be."""
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="a phone or SoC that is not attached runs on its simulated twin "
        "(same as DEVICELAB_SIMULATE=1)",
    )


def add_shapes(parser: argparse.ArgumentParser) -> None:
    """``--input-shape NAME=D0,D1,..`` (repeatable)."""
    parser.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D0,D1,..",
        help="input shape (repeatable), e.g. image=1,3,224,224",
    )


def add_model(parser: argparse.ArgumentParser, what: str) -> None:
    """The model a job runs: a file, or ``--model-id ID`` for an uploaded one."""
    parser.add_argument(
        "model",
        nargs="?",
        help=f"{what} (an uploaded model: --model-id; a text that is no file and looks "
        "like an id, m + no dot, is taken as one too)",
    )
    parser.add_argument("--model-id", metavar="ID", help="an uploaded model's id")


def model_arg(args: argparse.Namespace) -> hub.Model | str:
    """The model ``args`` name: ``--model-id``, else the positional path.

    The positional may also be a model id (``devicelab upload`` prints one): a text that
    is no existing path, starts with "m" and has no dot is looked up as one. That guess
    stays as a fallback because scripts pass ids there (``tests/test_cli.py``
    test_upload_and_models); ``--model-id`` says it without guessing.
    """
    if args.model_id and args.model:
        raise UserError(f"name the model once: {args.model!r} or --model-id {args.model_id}")
    if args.model_id:
        return hub.get_model(args.model_id)
    if not args.model:
        raise UserError(f"{args.command} needs a model: a file, or --model-id ID")
    text: str = args.model
    if not Path(text).exists() and text.startswith("m") and "." not in text:
        return hub.get_model(text)
    return text


def device_arg(args: argparse.Namespace) -> hub.Device | None:
    """``--device``, or None for this host."""
    return hub.Device(args.device) if args.device else None


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``image=1,3,224,224`` -> ("image", (1, 3, 224, 224))."""
    name, _, dims = text.partition("=")
    try:
        shape = tuple(int(d) for d in dims.split(",") if d)
    except ValueError:
        shape = ()
    if not name or not shape:
        raise UserError(f"--input-shape {text!r}: expected NAME=D0,D1,... e.g. image=1,3,224,224")
    return name, shape


def failed(job: hub.Job, status: hub.JobStatus) -> int:
    """Say why ``job`` failed; the exit code for it."""
    print(f"job {job.job_id} failed: {status.message}", file=sys.stderr)
    return EXIT_JOB_FAILED


def json_text(data: Any) -> str:
    """``data`` as strict JSON: NaN and infinities (an empty statistic) become null.

    Python's json writes them as bare ``NaN``, which no other JSON reader accepts.
    """
    return json.dumps(_finite(data), indent=2, default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def write_json(path: str, data: Any) -> None:
    """Write ``data`` as strict JSON to ``path``; say so on stderr."""
    Path(path).write_text(json_text(data))
    print(f"wrote {path}", file=sys.stderr)


def print_profile(result: ProfileResult | dict[str, Any], top: int) -> None:
    """The summary and the ``top`` slowest layers of a profile result."""
    from controller.report_text import layer_table, summary_text

    print(summary_text(result, bold=sys.stdout.isatty()))
    print()
    print(layer_table(result, top=top))


def print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    """A listing: JSON, or one line per row with its values two spaces apart."""
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        print("  ".join(str(v) for v in row.values()))
