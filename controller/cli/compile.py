"""``devicelab compile MODEL --device D``: compile for a device's SoC (on this host),
optionally then profile it there."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import controller as hub
from controller.cli._common import (
    EXIT_OK,
    add_job_options,
    add_model,
    add_shapes,
    failed,
    model_arg,
    parse_shape,
    print_profile,
)
from controller.cli.progress import JobProgress
from controller.errors import UserError


def register(sub: Any) -> None:
    """Register ``compile`` on the top-level subparsers."""
    compile_ = sub.add_parser("compile", help="compile a model for a device's SoC (on this host)")
    add_model(compile_, "the source model file")
    add_job_options(compile_, "target device or SoC, e.g. 'Samsung Galaxy S23' or SM8550")
    add_shapes(compile_)
    compile_.add_argument("--out", metavar="FILE", help="write the compiled model")
    compile_.add_argument("--profile", action="store_true", help="then profile it on the device")
    compile_.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Compile (and profile), print the compiled model's id and notes; 1 if a job failed."""
    if not args.device:
        raise UserError("compile needs --device: the phone or SoC to compile for")
    specs = dict(parse_shape(t) for t in args.input_shape) or None
    device = hub.Device(args.device)
    model = model_arg(args)
    if args.profile:
        job, profile_job = hub.submit_compile_and_profile_jobs(
            model, device, input_specs=specs, compile_options=args.options
        )
    else:
        job = hub.submit_compile_job(model, device, input_specs=specs, options=args.options)
    JobProgress(args.quiet).follow_messages(job)
    status = job.wait()
    if status.failure:
        return failed(job, status)
    result = job.download_results()
    assert result.target_model is not None
    print(f"compiled model: {result.target_model.model_id} ({result.target_model.name})")
    for note in result.notes:
        print(f"note: {note}")
    if args.out:
        job.download_target_model(args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.profile:
        status = profile_job.wait()
        if status.failure:
            return failed(profile_job, status)
        print_profile(profile_job.download_profile(), 25)
    return EXIT_OK
