"""``devicelab``: a thin command-line layer over the public API.

Exit codes scripts can trust: 0 success, 1 the job failed on the device,
2 bad input (UserError, before anything ran), 3 internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from controller.errors import Error, InternalError, UserError

EXIT_OK, EXIT_JOB_FAILED, EXIT_USER_ERROR, EXIT_INTERNAL = 0, 1, 2, 3


def _parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``image=1,3,224,224`` -> ("image", (1, 3, 224, 224))."""
    name, _, dims = text.partition("=")
    try:
        shape = tuple(int(d) for d in dims.split(",") if d)
    except ValueError:
        shape = ()
    if not name or not shape:
        raise UserError(f"--input-shape {text!r}: expected NAME=D0,D1,... e.g. image=1,3,224,224")
    return name, shape


class _Progress:
    """Prints stages and iteration counts to stderr while a job runs.

    On a terminal the iteration count updates in place; in a log (not a TTY)
    each stage is one line, so CI logs stay readable.
    """

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.iterations = 0

    def __call__(self, job: Any, event: Any) -> None:
        if self.quiet:
            return
        from protos import agent_pb2 as pb

        kind = event.WhichOneof("event")
        if kind == "stage_started":
            stage = pb.Stage.Name(event.stage_started.stage).removeprefix("STAGE_").lower()
            self._line(f"[{job.job_id}] {stage.replace('_', ' ')}", newline=True)
        elif kind == "iterations" and self.tty:
            self.iterations += len(event.iterations.latencies_us)
            self._line(f"[{job.job_id}] inference: {self.iterations} iterations", newline=False)
        elif kind == "done":
            self._line(f"[{job.job_id}] done: {event.done.iterations} timed iterations", True)
        elif kind == "error":
            self._line(f"[{job.job_id}] error: {event.error.message}", newline=True)

    def _line(self, text: str, newline: bool) -> None:
        prefix = "\r\033[K" if self.tty else ""
        print(
            prefix + text, end="\n" if newline or not self.tty else "", file=sys.stderr, flush=True
        )


def cmd_profile(args: argparse.Namespace) -> int:
    import controller as hub
    from controller.report_text import layer_table, summary_text

    input_specs = dict(_parse_shape(text) for text in args.input_shape)
    job = hub.submit_profile_job(
        args.model,
        hub.Device(args.device) if args.device else None,
        options=args.options,
        input_specs=input_specs or None,
        listener=_Progress(args.quiet),
    )
    status = job.wait()
    if status.failure:
        print(f"job {job.job_id} failed: {status.message}", file=sys.stderr)
        return EXIT_JOB_FAILED
    result = job.download_profile()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    print(summary_text(result))
    print()
    print(layer_table(result, top=args.top))
    return EXIT_OK


def cmd_options(args: argparse.Namespace) -> int:
    from controller.options import describe_options

    print(describe_options())
    return EXIT_OK


def cmd_samples(args: argparse.Namespace) -> int:
    from controller.samples import write_samples

    for path in write_samples(Path(args.directory)):
        print(path)
    return EXIT_OK


def cmd_devices(args: argparse.Namespace) -> int:
    import controller as hub

    devices = hub.get_devices(args.name, args.os, args.attribute)
    if args.json:
        rows = [
            {"name": d.name, "serial": d.serial, "os": d.os, "attributes": list(d.attributes)}
            for d in devices
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for device in devices:
        print(f"{device.name}  [{device.serial}]  os {device.os or '?'}")
        print(f"    {' '.join(device.attributes)}")
    if not devices:
        print("no matching device", file=sys.stderr)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="devicelab", description="Profile ML models on devices.")
    sub = parser.add_subparsers(dest="command", required=True)

    profile = sub.add_parser("profile", help="profile a model on a device")
    profile.add_argument("model", help=".tflite, .onnx or QNN context binary .bin")
    profile.add_argument("--device", default="", help="device name (default: this host)")
    profile.add_argument("--options", default="", help='job options, e.g. "--compute_unit cpu"')
    profile.add_argument("--json", metavar="FILE", help="write the result dict as JSON")
    profile.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D0,D1,..",
        help="concrete shape for an input with dynamic dims (repeatable)",
    )
    profile.add_argument("--top", type=int, default=25, help="layers shown in the table")
    profile.add_argument("--quiet", action="store_true", help="no progress on stderr")
    profile.set_defaults(func=cmd_profile)

    options = sub.add_parser("options", help="list every option and sub-option")
    options.set_defaults(func=cmd_options)

    samples = sub.add_parser("samples", help="write the small sample models into a directory")
    samples.add_argument("directory")
    samples.set_defaults(func=cmd_samples)

    devices = sub.add_parser("devices", help="list reachable devices and their attributes")
    devices.add_argument("--name", default="", help="exact device name")
    devices.add_argument("--os", default="", help='OS version or interval, e.g. "[12,15)"')
    devices.add_argument("--attribute", action="append", default=[], help="required attribute")
    devices.add_argument("--json", action="store_true", help="print JSON")
    devices.set_defaults(func=cmd_devices)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except InternalError as exc:
        print(f"internal error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
