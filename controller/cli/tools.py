"""``devicelab options``, ``bundle``, ``doctor``, ``samples``: the lab's own tools (the
option vocabulary, the device runtime, what a device can do, sample models)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from controller.cli._common import EXIT_JOB_FAILED, EXIT_OK


def register(sub: Any) -> None:
    """Register ``options``, ``bundle``, ``doctor`` and ``samples``."""
    options = sub.add_parser("options", help="list every option and sub-option")
    options.set_defaults(func=options_command)
    bundle = sub.add_parser("bundle", help="build the device runtime (for devices with no Python)")
    bundle.add_argument("--arch", default="aarch64", help="device architecture (default aarch64)")
    bundle.add_argument("--qnn", action="store_true", help="add onnxruntime-qnn (Linux boards)")
    bundle.add_argument("--out", metavar="FILE", help="also copy the archive here")
    bundle.add_argument("--rebuild", action="store_true", help="ignore the cached build")
    bundle.set_defaults(func=bundle_command)
    doctor = sub.add_parser("doctor", help="what a device can do, what is missing, and the fixes")
    doctor.add_argument("device", nargs="?", default="", help="name or serial (default: this host)")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(func=doctor_command)
    samples = sub.add_parser("samples", help="write the small sample models into a directory")
    samples.add_argument("directory")
    samples.set_defaults(func=samples_command)


def options_command(args: argparse.Namespace) -> int:
    """Print every option and sub-option (``controller/options``)."""
    from controller.options import describe_options

    print(describe_options())
    return EXIT_OK


def samples_command(args: argparse.Namespace) -> int:
    """Write the sample models; print each path, and on stderr the ones skipped."""
    from controller.samples import skipped_samples, write_samples

    for path in write_samples(Path(args.directory), skip_missing=True):
        print(path)
    for skipped in skipped_samples(Path(args.directory)):
        print(f"skipped: {skipped}", file=sys.stderr)
    return EXIT_OK


def bundle_command(args: argparse.Namespace) -> int:
    """Build (or reuse) the device runtime; print its id, size and versions."""
    import shutil

    from controller.device_runtime.build import build_runtime

    built = build_runtime(args.arch, qnn=args.qnn, rebuild=args.rebuild)
    if args.out:
        shutil.copyfile(built.path, args.out)
    manifest = built.manifest
    print(f"runtime {built.runtime_id}: {built.path}")
    print(f"  {built.size / 1e6:.1f} MB compressed, {int(manifest['unpacked_bytes']) / 1e6:.1f} MB "
          f"unpacked, {manifest['files']} files")  # fmt: skip
    wheels: dict[str, str] = manifest["wheels"]
    print(f"  python {manifest['python']}; " + ", ".join(f"{n} {v}" for n, v in wheels.items()))
    return EXIT_OK


def doctor_command(args: argparse.Namespace) -> int:
    """Print the device's checks; exit 0 when it can run jobs, 1 when it cannot."""
    from controller.doctor import diagnose, format_table

    diagnosis = diagnose(args.device)
    if args.json:
        print(json.dumps(diagnosis.as_dict(), indent=2))
    else:
        print(format_table(diagnosis))
    return EXIT_OK if diagnosis.can_run_jobs else EXIT_JOB_FAILED
