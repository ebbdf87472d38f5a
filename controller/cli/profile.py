"""``devicelab profile MODEL``: profile a model on a device, print summary and layers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import controller as hub
from controller.api import wait_for_callbacks
from controller.cli._common import (
    EXIT_OK,
    add_job_options,
    add_model,
    add_shapes,
    device_arg,
    failed,
    model_arg,
    parse_shape,
    print_profile,
    write_json,
)
from controller.cli.progress import JobProgress, UploadBar


def register(sub: Any) -> None:
    """Register ``profile`` on the top-level subparsers."""
    profile = sub.add_parser("profile", help="profile a model on a device")
    add_model(profile, ".tflite, .onnx, QNN context binary .bin")
    add_job_options(profile, "device name or serial (default: this host)")
    add_shapes(profile)
    profile.add_argument("--top", type=int, default=25, help="layers shown in the table")
    profile.add_argument("--html", metavar="FILE", help="also write the HTML report")
    profile.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Submit, follow the progress on stderr, print the result; 1 if the job failed."""
    progress = JobProgress(args.quiet)
    job = hub.submit_profile_job(
        model_arg(args),
        device_arg(args),
        options=args.options,
        input_specs=dict(parse_shape(t) for t in args.input_shape) or None,
        listener=progress,
        upload_progress=UploadBar(args.quiet),
    )
    assert isinstance(job, hub.ProfileJob)
    progress.announce(job)
    status = job.wait()
    wait_for_callbacks(job.job_id)  # the last progress lines before the result
    progress.finish()
    if status.failure:
        return failed(job, status)
    result = job.download_profile()
    if args.json:
        write_json(args.json, result)
    if args.html:
        from controller.reports import write_html_report

        write_html_report(result, Path(args.html))
        print(f"wrote {args.html}", file=sys.stderr)
    print_profile(result, args.top)
    return EXIT_OK
