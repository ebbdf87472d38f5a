"""``devicelab jobs``, ``job ID``, ``cancel ID``, ``report ID``, ``trace ID``: the jobs
in the store, one job's state and result, and a profile job's files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import controller as hub
from controller.api import current_store
from controller.cli._common import (
    EXIT_JOB_FAILED,
    EXIT_OK,
    json_text,
    print_profile,
    print_rows,
)
from controller.errors import UserError
from controller.profile_result import ProfileResult, is_profile_dict


def register(sub: Any) -> None:
    """Register ``jobs``, ``job``, ``cancel``, ``report`` and ``trace``."""
    listing = sub.add_parser("jobs", help="list jobs, newest first")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=jobs_command)

    job = sub.add_parser("job", help="show one job (status, summary, layers)")
    job.add_argument("job_id")
    job.add_argument("--json", action="store_true", help="print the result JSON")
    job.add_argument("--wait", action="store_true", help="wait for it to finish")
    job.set_defaults(func=job_command)

    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(func=cancel_command)

    for name, func, what in (
        ("report", report_command, "a self-contained HTML report"),
        ("trace", trace_command, "a Chrome/Perfetto trace (JSON)"),
    ):
        out = sub.add_parser(name, help=f"write {what} of a profile job")
        out.add_argument("job_id")
        out.add_argument("--out", metavar="FILE", help="output file (default: <job>.html/.json)")
        out.set_defaults(func=func)


def jobs_command(args: argparse.Namespace) -> int:
    """Jobs, newest first: id, type, state, name, date, message."""
    rows = []
    for job in hub.get_jobs(args.limit):
        status = job.get_status()
        rows.append(
            {
                "id": job.job_id,
                "type": job.job_type,
                "state": status.label,
                "name": job.name,
                "date": job.date,
                "message": status.message,
            }
        )
    print_rows(rows, args.json)
    return EXIT_OK


def job_command(args: argparse.Namespace) -> int:
    """One job: state, where it ran, retries, and a profile's summary; 1 if it failed."""
    handle = hub.get_job(args.job_id)
    status = handle.wait() if args.wait else handle.get_status()
    store = current_store()  # the store get_job read the job from
    result = store.get_result(handle.job_id)
    record = store.get_job(handle.job_id)
    retries = record.retries
    if args.json:
        print(
            json_text(
                {
                    "job_id": handle.job_id,
                    "type": handle.job_type,
                    "state": status.label,
                    "message": status.message,
                    "retries": retries,
                    "host": record.host,
                    "device": record.device_serial,
                    "result": result,
                },
            )
        )
    else:
        print(f"{handle.job_id}  {handle.job_type}  {status.label}  {status.message or ''}")
        if record.host and record.device_serial:  # who runs (or ran) it: a lab of hosts
            print(f"on {record.host} [{record.device_serial}], attempt {record.attempt}")
        for retry in retries:
            print(f"retried: device {retry['device']} failed at {retry['at']}: {retry['reason']}")
        if is_profile_dict(result):  # a profile job's (not a compile's)
            print_profile(ProfileResult.from_dict(result), 25)
    return EXIT_JOB_FAILED if status.failure else EXIT_OK


def cancel_command(args: argparse.Namespace) -> int:
    """Cancel a job; say whether it had already ended."""
    if hub.get_job(args.job_id).cancel():
        print(f"cancelled {args.job_id}")
    else:
        print(f"{args.job_id} had already ended")
    return EXIT_OK


def _profile_result(job_id: str) -> ProfileResult:
    handle = hub.get_job(job_id)
    if not isinstance(handle, hub.ProfileJob):
        raise UserError(f"{job_id} is a {handle.job_type} job; reports are for profile jobs")
    result = handle.profile_result()
    if result is None:
        raise UserError(f"{job_id} has no result yet ({handle.get_status().label})")
    return result


def report_command(args: argparse.Namespace) -> int:
    """Write a profile job's HTML report; print its path."""
    from controller.reports import write_html_report

    path = write_html_report(_profile_result(args.job_id), Path(args.out or f"{args.job_id}.html"))
    print(path)
    return EXIT_OK


def trace_command(args: argparse.Namespace) -> int:
    """Write a profile job's Chrome/Perfetto trace; print its path."""
    from controller.reports import write_chrome_trace

    path = write_chrome_trace(_profile_result(args.job_id), Path(args.out or f"{args.job_id}.json"))
    print(path)
    return EXIT_OK
