"""Each job runs in a fresh child process.

Why: runtimes leave state behind in a process. Measured here: after one QNN
HTP job, LiteRT's profiled runs in the same process took 1.5-2x longer (the
ops did not, the time around them did). A fresh process also makes the
"first load" really cold, turns a runtime crash (segfault in a delegate) into
a job error instead of a dead agent, and makes cancel immediate (terminate).

The child is started with ``spawn`` (no inherited runtime state, safe with
gRPC's threads), runs a generator function, and sends what it yields back over
a pipe; the parent re-yields it. An exception in the child is re-raised in the
parent with the same class when it is one of ours.

Liveness comes from here, not from the job: while the child is quiet (a load,
a long iteration) the parent can report on it (``Liveness``) without touching
the child's timed loop, and a frozen child (SIGSTOP, a debugger) shows up as
``stopped`` while the parent itself keeps answering.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import psutil

from agent.errors import AgentError, JobCancelledError

_POLL_SEC = 0.05
_JOIN_TIMEOUT_SEC = 5.0


@dataclass(frozen=True)
class Liveness:
    """The parent's report on a quiet child, yielded every ``heartbeat_s``."""

    since_last_item_s: float
    process_state: str  # psutil's status: "running", "sleeping", "stopped", "zombie", ...
    process_cpu_s: float


class _End:
    """Sent after the generator finished normally."""


class _Failure:
    def __init__(self, error: BaseException) -> None:
        if not isinstance(error, AgentError):
            error = AgentError(f"{type(error).__name__}: {error}")
        self.error = error


def _child_main(
    conn: Connection, func: Callable[..., Iterator[Any]], args: tuple[Any, ...]
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    try:
        for item in func(*args):
            conn.send(item)
        conn.send(_End())
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent
        try:
            conn.send(_Failure(exc))
        except Exception:  # the error itself may not pickle
            conn.send(_Failure(AgentError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def _crash_message(process: multiprocessing.process.BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else code
        return f"the runtime crashed (killed by signal {name}); see the agent log"
    return f"the job's worker process exited unexpectedly (exit code {code})"


def run_isolated(
    func: Callable[..., Iterator[Any]],
    args: tuple[Any, ...],
    should_stop: Callable[[], bool] = lambda: False,
    heartbeat_s: float | None = None,
) -> Iterator[Any]:
    """Run generator ``func(*args)`` in a child process; yield what it yields.

    ``func`` must be a module-level function and ``args`` picklable. When
    ``should_stop()`` turns true the child is terminated and JobCancelledError
    raised. With ``heartbeat_s``, a ``Liveness`` is yielded whenever the child
    sent nothing for that long.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(sender, func, args), daemon=True)
    process.start()
    sender.close()  # the child holds the only writer: EOF now means it is gone
    try:
        yield from _relay(receiver, process, should_stop, heartbeat_s)
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
            _resume(process)
        process.join(_JOIN_TIMEOUT_SEC)
        if process.is_alive():
            process.kill()
            process.join()


def _resume(process: multiprocessing.process.BaseProcess) -> None:
    """SIGCONT after SIGTERM: a stopped child would hold the signal pending, and we
    would wait the whole join timeout for nothing."""
    if process.pid is not None:
        with contextlib.suppress(OSError):  # already gone
            os.kill(process.pid, signal.SIGCONT)


def _relay(
    receiver: Connection,
    process: multiprocessing.process.BaseProcess,
    should_stop: Callable[[], bool],
    heartbeat_s: float | None,
) -> Iterator[Any]:
    last_item = last_beat = time.monotonic()
    while True:
        if should_stop():
            raise JobCancelledError("job cancelled")
        if not receiver.poll(_POLL_SEC):
            now = time.monotonic()
            if heartbeat_s is not None and now - max(last_item, last_beat) >= heartbeat_s:
                last_beat = now
                yield _liveness(process, now - last_item)
            continue
        last_item = time.monotonic()
        try:
            item = receiver.recv()
        except EOFError:
            process.join(_JOIN_TIMEOUT_SEC)
            raise AgentError(_crash_message(process)) from None
        if isinstance(item, _End):
            return
        if isinstance(item, _Failure):
            raise item.error
        yield item


def _liveness(process: multiprocessing.process.BaseProcess, quiet_s: float) -> Liveness:
    try:
        child = psutil.Process(process.pid)
        with child.oneshot():
            cpu = child.cpu_times()
            return Liveness(quiet_s, child.status(), cpu.user + cpu.system)
    except (psutil.Error, ValueError):  # gone between two polls; EOF reports it next
        return Liveness(quiet_s, "unknown", 0.0)
