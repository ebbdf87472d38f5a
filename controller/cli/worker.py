"""``devicelab worker``: run queued jobs in the foreground until ^C (a lab's worker), or
``--status`` / ``--stop`` the one serving the store."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from controller.api import current_store
from controller.cli._common import EXIT_JOB_FAILED, EXIT_OK


def register(sub: Any) -> None:
    """Register ``worker`` on the top-level subparsers."""
    worker = sub.add_parser("worker", help="run queued jobs on every reachable device until ^C")
    state = worker.add_mutually_exclusive_group()
    state.add_argument("--status", action="store_true", help="which worker serves the store")
    state.add_argument("--stop", action="store_true", help="stop the worker serving the store")
    worker.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Run a worker in the foreground (a lab's), or show / stop the one serving the store."""
    from controller import daemon

    root = current_store().root
    if args.status or args.stop:
        pid = daemon.stop_worker(root) if args.stop else daemon.serving_pid(root)
        verb = "stopped" if args.stop else "serves"
        print(f"worker pid {pid} {verb} {root}" if pid else f"no worker serves {root}")
        return EXIT_OK if pid or args.stop else EXIT_JOB_FAILED
    lock = daemon.StoreLock(root)
    if not lock.try_acquire():
        print(
            f"a worker daemon (pid {daemon.serving_pid(root)}) serves {root} too; both claim "
            "jobs atomically, and this one takes over when it idles out",
            file=sys.stderr,
        )
    # A lab's worker runs in the foreground: its log (recovered jobs, agents) is its stderr.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    print(f"worker running on {root}; ^C to stop", file=sys.stderr)
    daemon.serve(current_store(), lock, idle_exit_sec=None)
    return EXIT_OK
