"""``devicelab``: a thin command-line layer over the public API.

Exit codes scripts can trust: 0 success, 1 the job failed on the device,
2 bad input (UserError, before anything ran), 3 internal error.

One module per command (or small group) holds its parser and its handler, and has
``register(subparsers)``; ``COMMANDS`` below lists them in the order ``--help`` shows.
A new command is a new module here (or in its own package, as ``controller/regress/cli.py``
and ``controller/web/cli.py``) and one line in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import os
import sys

import controller as hub
from controller.cli import compile as compile_  # the module; not the builtin
from controller.cli import devices, infer, jobs, models, profile, run, tools, worker
from controller.cli._common import EXIT_INTERNAL, EXIT_JOB_FAILED, EXIT_OK, EXIT_USER_ERROR
from controller.devices.simulated import SIMULATE_ENV
from controller.errors import Error, InternalError, UserError
from controller.regress import cli as regress_cli
from controller.web import cli as web_cli

__all__ = ["EXIT_INTERNAL", "EXIT_JOB_FAILED", "EXIT_OK", "EXIT_USER_ERROR", "build_parser", "main"]

#: The command modules, each with ``register(subparsers)``, in ``--help`` order.
COMMANDS = (
    profile,
    infer,
    compile_,
    devices,
    models,
    jobs,
    worker,
    tools,
    run,
    regress_cli,
    web_cli,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``devicelab`` parser: global options, then each command module's commands."""
    parser = argparse.ArgumentParser(prog="devicelab", description="Profile ML models on devices.")
    parser.add_argument(
        "--store",
        metavar="URL_OR_DIR",
        help="the store: postgresql://... (a lab's shared store) or a folder "
        "(same as DEVICELAB_STORE; default $DEVICELAB_HOME/store)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


_JOB_OPTION_FLAGS = ("--options",)


def join_option_values(argv: list[str]) -> list[str]:
    """``--options "--dequantize_outputs"``: argparse would take the value for an option
    of its own; the job options always start with "--", so bind them with "="."""
    joined: list[str] = []
    values = iter(argv)
    for arg in values:
        if arg == "run":  # what follows is the program's own command line
            return [*joined, arg, *values]
        if arg in _JOB_OPTION_FLAGS:
            value = next(values, None)
            joined.append(arg if value is None else f"{arg}={value}")
        else:
            joined.append(arg)
    return joined


def main(argv: list[str] | None = None) -> int:
    """Run ``devicelab`` with ``argv`` (default: the process's); the exit code."""
    args = build_parser().parse_args(join_option_values(sys.argv[1:] if argv is None else argv))
    if args.store:  # as the variable would be (a daemon started from here inherits it)
        os.environ["DEVICELAB_STORE"] = args.store
    if getattr(args, "simulate", False):
        # Read by the API at submit (DeviceRegistry.job_filter), as the variable would be.
        os.environ[SIMULATE_ENV] = "1"
    try:
        if args.store:
            hub.set_store(args.store)
        return int(args.func(args))
    except BrokenPipeError:
        # The reader left (`devicelab options | head`): what it wanted was printed.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except InternalError as exc:
        print(f"internal error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        return 130
