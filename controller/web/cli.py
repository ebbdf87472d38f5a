"""``devicelab serve``: the lab's web page, until ^C or SIGTERM (a thin layer over
``controller.web``).

While it runs, ``$DEVICELAB_HOME/web.json`` names it, so jobs' ``url`` link to
their page here (``controller/web/_address.py``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

#: The port when none is given (any free one: ``--port 0``).
DEFAULT_PORT = 8765


def register(sub: Any) -> None:
    """Register ``serve`` on the top-level subparsers."""
    serve = sub.add_parser("serve", help="the lab's web page: devices, queue, jobs, history")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this host only)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0: any free port)",
    )
    serve.add_argument("--token-file", type=Path, metavar="FILE",
                       help="a file holding the token that actions (cancel a job, release "
                       "a device) need as 'Authorization: Bearer TOKEN'; without it the page "
                       "is read-only")  # fmt: skip
    serve.set_defaults(func=serve_command)


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # ends serve_forever as ^C does; cleanup runs in finally


def serve_command(args: argparse.Namespace) -> int:
    """Serve until interrupted; announce the URL for job links while serving."""
    from controller.api import current_store
    from controller.devices import DeviceRegistry
    from controller.web import LabData, LabServer, announce, read_token, withdraw

    token = read_token(args.token_file) if args.token_file else None
    store = current_store()
    registry = DeviceRegistry()
    server = LabServer(LabData(store, registry, store.host), args.host, args.port, token)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _stop)
    announce(server.url, store.location)
    mode = "actions need the token" if token else "read-only"
    print(f"devicelab serve: {server.url}/ ({mode}; store {store.location})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("devicelab serve: stopped", file=sys.stderr)
    finally:
        withdraw()
        server.stop()
        registry.close()
    return 0
