"""``devicelab infer MODEL --input NAME=FILE.npy``: run inference on a device."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

import controller as hub
from controller.cli._common import (
    EXIT_OK,
    add_job_options,
    add_model,
    device_arg,
    failed,
    model_arg,
    write_json,
)
from controller.cli.progress import JobProgress
from controller.errors import UserError


def register(sub: Any) -> None:
    """Register ``infer`` on the top-level subparsers."""
    infer = sub.add_parser("infer", help="run inference on a device")
    add_model(infer, "the model file")
    add_job_options(infer, "device name or serial (default: this host)")
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
    infer.set_defaults(func=command)


def _load_inputs(specs: list[str]) -> dict[str, np.ndarray]:
    inputs: dict[str, np.ndarray] = {}
    for text in specs:
        name, sep, file = text.partition("=")
        if not sep or not name:
            raise UserError(f"--input {text!r}: expected NAME=FILE.npy")
        try:
            inputs[name] = np.load(file)
        except (OSError, ValueError) as exc:
            raise UserError(f"--input {name}: cannot read {file}: {exc}") from exc
    return inputs


def _as_samples(arrays: dict[str, np.ndarray], model: hub.Model) -> dict[str, list[np.ndarray]]:
    """Each ``--input`` array as samples: one array of the input's rank is one sample;
    one rank more holds N samples on its leading axis (the layout ``--out`` writes).
    Where this host cannot read the model's inputs, each array is one sample."""
    ranks = {t.name: len(t.shape) for t in model.input_spec.get(None, []) if t.shape}
    return {
        name: list(array) if array.ndim == ranks.get(name, -1) + 1 else [array]
        for name, array in arrays.items()
    }


def command(args: argparse.Namespace) -> int:
    """Run, write ``--out`` / ``--json``, print each output's shape; 1 if the job failed."""
    arrays = _load_inputs(args.input)  # a bad --input is refused before the upload
    model = model_arg(args)
    model = model if isinstance(model, hub.Model) else hub.upload_model(model)
    job = hub.submit_inference_job(
        model, device_arg(args), _as_samples(arrays, model), options=args.options
    )
    JobProgress(args.quiet).announce(job)
    status = job.wait()
    if status.failure:
        return failed(job, status)
    outputs = job.download_output_data()
    assert outputs is not None  # the job succeeded
    if args.out:
        stacked: dict[str, Any] = {name: np.stack(values) for name, values in outputs.items()}
        np.savez(args.out, **stacked)
        print(f"wrote {args.out}", file=sys.stderr)
    for name, values in outputs.items():
        print(
            f"{name}: {len(values)} sample(s), shape {list(values[0].shape)}, "
            f"dtype {values[0].dtype}"
        )
    if args.json:
        write_json(args.json, {n: [v.tolist() for v in vs] for n, vs in outputs.items()})
    return EXIT_OK
