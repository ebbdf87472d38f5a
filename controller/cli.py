"""``devicelab``: a thin command-line layer over the public API.

Exit codes scripts can trust: 0 success, 1 the job failed on the device,
2 bad input (UserError, before anything ran), 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import controller as hub
from controller import cli_commands as commands
from controller import cli_run
from controller.errors import Error, InternalError, UserError
from controller.regress import cli as regress_cli
from controller.simulated import SIMULATE_ENV
from controller.web import cli as web_cli

EXIT_OK, EXIT_JOB_FAILED, EXIT_USER_ERROR, EXIT_INTERNAL = 0, 1, 2, 3


def _job_options(parser: argparse.ArgumentParser, device_help: str) -> None:
    parser.add_argument("--device", default="", help=device_help)
    parser.add_argument("--options", default="", help='job options, e.g. "--compute_unit cpu"')
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--json", metavar="FILE", help="write the result as JSON")
    _simulate(parser)


def _simulate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="a phone or SoC that is not attached runs on its simulated twin "
        "(same as DEVICELAB_SIMULATE=1)",
    )


def _shapes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D0,D1,..",
        help="input shape (repeatable), e.g. image=1,3,224,224",
    )


def _add_run_commands(sub: Any) -> None:
    profile = sub.add_parser("profile", help="profile a model on a device")
    profile.add_argument("model", help=".tflite, .onnx, QNN context binary .bin, or a model id")
    _job_options(profile, "device name or serial (default: this host)")
    _shapes(profile)
    profile.add_argument("--top", type=int, default=25, help="layers shown in the table")
    profile.add_argument("--html", metavar="FILE", help="also write the HTML report")
    profile.set_defaults(func=commands.profile)

    infer = sub.add_parser("infer", help="run inference on a device")
    infer.add_argument("model")
    _job_options(infer, "device name or serial (default: this host)")
    infer.add_argument(
        "--input",
        action="append",
        default=[],
        required=True,
        metavar="NAME=FILE.npy",
        help="one input (repeatable): FILE.npy holds one sample of the input's shape, or N "
        "samples stacked on an extra leading axis (as --out writes the outputs)",
    )
    infer.add_argument("--out", metavar="FILE.npz", help="write the outputs")
    infer.set_defaults(func=commands.infer)

    compile_ = sub.add_parser("compile", help="compile a model for a device's SoC (on this host)")
    compile_.add_argument("model")
    _job_options(compile_, "target device or SoC, e.g. 'Samsung Galaxy S23' or SM8550")
    _shapes(compile_)
    compile_.add_argument("--out", metavar="FILE", help="write the compiled model")
    compile_.add_argument("--profile", action="store_true", help="then profile it on the device")
    compile_.set_defaults(func=commands.compile_)


def _add_state_commands(sub: Any) -> None:
    devices = sub.add_parser(
        "devices", help="list reachable devices, their attributes and health state"
    )
    devices.add_argument("--name", default="", help="exact device name")
    devices.add_argument("--os", default="", help='OS version or interval, e.g. "[12,15)"')
    devices.add_argument("--attribute", action="append", default=[], help="required attribute")
    devices.add_argument("--json", action="store_true", help="print JSON")
    devices.add_argument(
        "--history",
        nargs="?",
        const="",
        metavar="SERIAL",
        help="the stored state transitions (of one device), with time and reason",
    )
    devices.add_argument(
        "--release",
        metavar="SERIAL",
        help="put a quarantined (or offline, resting, suspect) device back to available",
    )
    _simulate(devices)
    devices.set_defaults(func=commands.devices)

    for name, func, what in (
        ("models", commands.models, "uploaded models"),
        ("datasets", commands.datasets, "uploaded datasets"),
        ("jobs", commands.jobs, "jobs, newest first"),
    ):
        listing = sub.add_parser(name, help=f"list {what}")
        listing.add_argument("--limit", type=int, default=50)
        listing.add_argument("--json", action="store_true", help="print JSON")
        listing.set_defaults(func=func)

    upload = sub.add_parser("upload", help="upload a model; prints its id")
    upload.add_argument("model")
    upload.set_defaults(func=commands.upload)

    job = sub.add_parser("job", help="show one job (status, summary, layers)")
    job.add_argument("job_id")
    job.add_argument("--json", action="store_true", help="print the result JSON")
    job.add_argument("--wait", action="store_true", help="wait for it to finish")
    job.set_defaults(func=commands.job)

    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(func=commands.cancel)

    for name, func, what in (
        ("report", commands.report, "a self-contained HTML report"),
        ("trace", commands.trace, "a Chrome/Perfetto trace (JSON)"),
    ):
        out = sub.add_parser(name, help=f"write {what} of a profile job")
        out.add_argument("job_id")
        out.add_argument("--out", metavar="FILE", help="output file (default: <job>.html/.json)")
        out.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="devicelab", description="Profile ML models on devices.")
    parser.add_argument(
        "--store",
        metavar="URL_OR_DIR",
        help="the store: postgresql://... (a lab's shared store) or a folder "
        "(same as DEVICELAB_STORE; default $DEVICELAB_HOME/store)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run_commands(sub)
    _add_state_commands(sub)

    worker = sub.add_parser("worker", help="run queued jobs on every reachable device until ^C")
    state = worker.add_mutually_exclusive_group()
    state.add_argument("--status", action="store_true", help="which worker serves the store")
    state.add_argument("--stop", action="store_true", help="stop the worker serving the store")
    worker.set_defaults(func=commands.worker)
    options = sub.add_parser("options", help="list every option and sub-option")
    options.set_defaults(func=commands.options)
    bundle = sub.add_parser("bundle", help="build the device runtime (for devices with no Python)")
    bundle.add_argument("--arch", default="aarch64", help="device architecture (default aarch64)")
    bundle.add_argument("--qnn", action="store_true", help="add onnxruntime-qnn (Linux boards)")
    bundle.add_argument("--out", metavar="FILE", help="also copy the archive here")
    bundle.add_argument("--rebuild", action="store_true", help="ignore the cached build")
    bundle.set_defaults(func=commands.bundle)
    doctor = sub.add_parser("doctor", help="what a device can do, what is missing, and the fixes")
    doctor.add_argument("device", nargs="?", default="", help="name or serial (default: this host)")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(func=commands.doctor)
    samples = sub.add_parser("samples", help="write the small sample models into a directory")
    samples.add_argument("directory")
    samples.set_defaults(func=commands.samples)
    cli_run.add_parser(sub)
    regress_cli.add_commands(sub)  # devicelab regress run | history
    web_cli.add_commands(sub)  # devicelab serve
    return parser


_JOB_OPTION_FLAGS = ("--options",)


def _join_option_values(argv: list[str]) -> list[str]:
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
    args = build_parser().parse_args(_join_option_values(sys.argv[1:] if argv is None else argv))
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


if __name__ == "__main__":
    sys.exit(main())
