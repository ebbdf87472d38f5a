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
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from agent.errors import AgentError, JobCancelledError

_POLL_SEC = 0.05
_JOIN_TIMEOUT_SEC = 5.0


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
) -> Iterator[Any]:
    """Run generator ``func(*args)`` in a child process; yield what it yields.

    ``func`` must be a module-level function and ``args`` picklable. When
    ``should_stop()`` turns true the child is terminated and JobCancelledError
    raised.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(sender, func, args), daemon=True)
    process.start()
    sender.close()  # the child holds the only writer: EOF now means it is gone
    try:
        yield from _relay(receiver, process, should_stop)
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
        process.join(_JOIN_TIMEOUT_SEC)
        if process.is_alive():
            process.kill()
            process.join()


def _relay(
    receiver: Connection,
    process: multiprocessing.process.BaseProcess,
    should_stop: Callable[[], bool],
) -> Iterator[Any]:
    while True:
        if should_stop():
            raise JobCancelledError("job cancelled")
        if not receiver.poll(_POLL_SEC):
            continue
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
