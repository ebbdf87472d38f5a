"""``devicelab upload``, ``models``, ``datasets``: what the store holds to run on."""

from __future__ import annotations

import argparse
from typing import Any

import controller as hub
from controller.cli._common import EXIT_OK, print_rows


def register(sub: Any) -> None:
    """Register ``upload``, ``models`` and ``datasets`` on the top-level subparsers."""
    upload = sub.add_parser("upload", help="upload a model; prints its id")
    upload.add_argument("model")
    upload.set_defaults(func=upload_command)
    for name, func, what in (
        ("models", models_command, "uploaded models"),
        ("datasets", datasets_command, "uploaded datasets"),
    ):
        listing = sub.add_parser(name, help=f"list {what}")
        listing.add_argument("--limit", type=int, default=50)
        listing.add_argument("--json", action="store_true", help="print JSON")
        listing.set_defaults(func=func)


def upload_command(args: argparse.Namespace) -> int:
    """Upload a model file; print its id (for ``--model-id``)."""
    model = hub.upload_model(args.model)
    print(model.model_id)
    return EXIT_OK


def models_command(args: argparse.Namespace) -> int:
    """Uploaded models, newest first: id, name, type, date."""
    rows = [
        {"id": m.model_id, "name": m.name, "type": m.model_type.value, "date": m.date}
        for m in hub.get_models(limit=args.limit)
    ]
    print_rows(rows, args.json)
    return EXIT_OK


def datasets_command(args: argparse.Namespace) -> int:
    """Uploaded datasets, newest first: id, name, expiry."""
    rows = [
        {"id": d.dataset_id, "name": d.name, "expires": d.expiration_time}
        for d in hub.get_datasets(limit=args.limit)
    ]
    print_rows(rows, args.json)
    return EXIT_OK
