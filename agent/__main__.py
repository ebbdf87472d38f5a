"""``python -m agent serve --port P --workdir DIR``: run the device agent.

Prints one line ``DEVICELAB_AGENT_READY port=<port> pid=<pid>`` on stdout once
the server listens, which the controller's transports wait for.

``python -m agent qnn-context --model M --context-model C --provider-options JSON``
builds a QNN context binary (``agent/context_gen.py``) and prints its result as
one JSON line: the host's compile step runs it in the managed runtime.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import signal
import sys
import threading
from pathlib import Path

from agent.device_env import prepare_environment
from contract.handshake import TOKEN_ENV, ready_line


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the agent's gRPC API")
    serve.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--workdir", type=Path, required=True, help="artifacts and scratch files")
    serve.add_argument(
        "--token-file",
        type=Path,
        help="file holding the session token (read once at start; wins over --token-env)",
    )
    serve.add_argument(
        "--token-env",
        default=TOKEN_ENV,
        help="environment variable holding the session token (unset = no auth)",
    )
    serve.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="exit when standard input closes: the parent that started the agent died",
    )
    serve.add_argument("--log-level", default="INFO")
    context = sub.add_parser("qnn-context", help="build a QNN context binary; print JSON")
    context.add_argument("--model", type=Path, required=True)
    context.add_argument("--context-model", type=Path, required=True)
    context.add_argument("--provider-options", type=json.loads, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "qnn-context":
        from agent.context_gen import generate_context

        print(json.dumps(generate_context(args.model, args.provider_options, args.context_model)))
        return 0
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s [agent|%(process)d] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    args.workdir.mkdir(parents=True, exist_ok=True)
    changed = prepare_environment(args.workdir.resolve())
    if changed:
        logging.getLogger("devicelab.agent").info("environment set for this device: %s", changed)
    from agent.server import build_server  # after logging, so import errors are logged

    # The token travels by a file or the environment, never argv: argv is visible in
    # `ps` to every user (and on a phone, to every app).
    if args.token_file is not None:
        token = args.token_file.read_text(encoding="ascii").strip()
    else:
        token = os.environ.get(args.token_env, "")
    server, port = build_server(args.workdir, args.port, args.host, token)
    stop, wake_fd = _catch_stop_signals()
    print(ready_line(port, os.getpid()), flush=True)
    _sleep_until_stopped(stop, wake_fd, args.exit_with_stdin)
    server.stop(grace=2).wait()
    return 0


def _catch_stop_signals() -> tuple[threading.Event, int]:
    """SIGTERM and SIGINT set the event and write to the returned file descriptor."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    return stop, wake_read


def _sleep_until_stopped(stop: threading.Event, wake_fd: int, watch_stdin: bool) -> None:
    """Return once ``stop`` is set, or (``watch_stdin``) once stdin reaches end of file.

    No timer: an idle agent must not wake (it would be noise in a phone's
    measurements). Python runs signal handlers in the main thread only, and a
    SIGTERM the kernel hands to another thread (seen after SIGSTOP + SIGCONT)
    would not end a plain wait: the agent ignored it for good. The C-level
    handler writes to the wakeup fd from whichever thread took the signal, and
    that wakes the ``select`` here.

    Stdin: the parent holds the pipe's write end open and never writes: the
    kernel closes it when the parent dies however it dies (SIGKILL included),
    so the agent does not live on re-parented to init. PR_SET_PDEATHSIG would
    not do: it fires when the *thread* that started the agent exits, and a
    worker starts it from a job's thread.
    """
    stdin = sys.stdin.fileno()
    watched = [wake_fd, stdin] if watch_stdin else [wake_fd]
    while not stop.is_set():
        readable, _, _ = select.select(watched, [], [])
        if wake_fd in readable:
            os.read(wake_fd, 512)
        if watch_stdin and stdin in readable and not os.read(stdin, 4096):
            logging.getLogger("devicelab.agent").info("parent gone (stdin closed); exiting")
            return


if __name__ == "__main__":
    sys.exit(main())
