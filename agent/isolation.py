"""Each job runs in a fresh child process.

Why: runtimes leave state behind in a process. Measured here: after one QNN
HTP job, LiteRT's profiled runs in the same process took 1.5-2x longer (the
ops did not, the time around them did). A fresh process also makes the
"first load" really cold, turns a runtime crash (segfault in a delegate) into
a job error instead of a dead agent, and makes cancel immediate (terminate).

A ``JobProcess`` is started with ``spawn`` (no inherited runtime state, safe
with gRPC's threads), imports the agent's job code and the runtimes it is told
to ``preload``, then blocks on a pipe until it is given one job: a generator
function whose items it sends back over a second pipe; the parent re-yields
them. An exception in the child is re-raised in the parent with the same class
when it is one of ours. Starting the process before its job is known
(``agent/standby.py``) takes the spawn and the imports (~120 ms of a tiny
job's ~200 ms, ``scripts/bench_latency.py``) off the job's path; the process
still runs exactly one job.

Liveness comes from here, not from the job: while the child is quiet (a load,
a long iteration) the parent can report on it (``Liveness``) without touching
the child's timed loop, and a frozen child (SIGSTOP, a debugger) shows up as
``stopped`` while the parent itself keeps answering. The parent sleeps until
the child sends, the job is cancelled, or the child was quiet for a heartbeat:
no timer of its own fires while the child's loop reports progress.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import psutil

from agent.errors import AgentError, JobCancelledError

_JOIN_TIMEOUT_SEC = 5.0
_PR_SET_NAME = 15  # prctl(2)
READY_PROCESS_NAME = "devicelab-ready"  # a job process started ahead, waiting for its job
JOB_PROCESS_NAME = "devicelab-job"  # a job process running its job
# What every job imports, whatever its runtime: numpy, the session loop, the vendor tools.
JOB_MODULE = "agent.job_functions"


@dataclass(frozen=True)
class Liveness:
    """The parent's report on a quiet child, yielded every ``heartbeat_s``."""

    since_last_item_s: float
    process_state: str  # psutil's status: "running", "sleeping", "stopped", "zombie", ...
    process_cpu_s: float


class Cancellation:
    """A cancel flag the relay can sleep on (it has a file descriptor).

    A ``threading.Event`` cannot wake a ``select``: the relay would have to poll
    it, waking the agent 20 times a second during every timed loop.
    """

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe()
        self._event = threading.Event()
        self._lock = threading.Lock()

    def set(self) -> None:
        with self._lock:
            if self._event.is_set() or self._write_fd < 0:
                return
            self._event.set()
            os.write(self._write_fd, b"x")

    def is_set(self) -> bool:
        return self._event.is_set()

    def fileno(self) -> int:
        return self._read_fd

    def close(self) -> None:
        with self._lock:
            for fd in (self._read_fd, self._write_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._read_fd = self._write_fd = -1


class _End:
    """Sent after the generator finished normally."""


class _Failure:
    def __init__(self, error: BaseException) -> None:
        if not isinstance(error, AgentError):
            error = AgentError(f"{type(error).__name__}: {error}")
        self.error = error


def _preload(runtimes: tuple[str, ...]) -> None:
    """Import the job code and prepare ``runtimes`` (import only: no model is loaded)."""
    import importlib

    importlib.import_module(JOB_MODULE)
    from agent.runtimes import get_runtime

    for name in runtimes:
        with contextlib.suppress(AgentError):  # not installed: the job itself says so
            get_runtime(name).prepare()


def _set_process_name(name: str) -> None:
    """Name this process as ``ps``, ``top`` and psutil's ``name()`` show it (Linux, Android).

    A process started ahead and one running a job look alike otherwise (the same
    ``spawn_main`` command line): ``devicelab-ready`` waits, ``devicelab-job`` runs one.
    """
    with contextlib.suppress(OSError, AttributeError):  # not Linux: keep the name
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def _child_main(jobs: Connection, items: Connection, preload: tuple[str, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    try:
        _preload(preload)
        _set_process_name(READY_PROCESS_NAME)
        func, args = jobs.recv()
        _set_process_name(JOB_PROCESS_NAME)
    except EOFError:  # discarded before it had a job (the agent stops)
        return
    threading.Thread(target=_exit_with_parent, args=(jobs,), daemon=True).start()
    try:
        for item in func(*args):
            items.send(item)
        items.send(_End())
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent
        try:
            items.send(_Failure(exc))
        except Exception:  # the error itself may not pickle
            items.send(_Failure(AgentError(f"{type(exc).__name__}: {exc}")))
    finally:
        items.close()
    _exit_now()


def _exit_with_parent(jobs: Connection) -> None:
    """End this process once the agent is gone (its end of ``jobs`` closed).

    A job's process otherwise notices only when it next sends: a long load or
    iteration of an agent killed meanwhile ran on for minutes, for no one. The
    thread sleeps in a read: it costs the job nothing until the agent ends.
    """
    with contextlib.suppress(EOFError, OSError):
        jobs.recv()
    os._exit(1)


def _exit_now() -> None:
    """End the process without the interpreter's teardown.

    Everything was sent and the job's models are closed; tearing down the runtimes'
    modules took 3-18 ms here, and the job's stream ends only once its process is gone
    (the next job must not start beside it).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class JobProcess:
    """One child process that runs at most one job; started before or when it is needed.

    Example:
        process = JobProcess(preload=("onnxruntime",))   # spawns now, imports
        for item in process.run(profile_job, (path, config, plan), Cancellation()):
            ...
    """

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        context = multiprocessing.get_context("spawn")
        jobs_receiver, self._jobs = context.Pipe(duplex=False)
        self._items, items_sender = context.Pipe(duplex=False)
        self.preload = preload
        self.started_at = time.monotonic()
        self.process = context.Process(
            target=_child_main, args=(jobs_receiver, items_sender, preload), daemon=True
        )
        self.process.start()
        # The child holds the only other ends: EOF now means it is gone (or we are).
        jobs_receiver.close()
        items_sender.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def is_alive(self) -> bool:
        return self.process.is_alive()

    def run(
        self,
        func: Callable[..., Iterator[Any]],
        args: tuple[Any, ...],
        cancel: Cancellation,
        heartbeat_s: float | None = None,
    ) -> Iterator[Any]:
        """Run generator ``func(*args)`` in this process; yield what it yields.

        ``func`` must be a module-level function and ``args`` picklable. When
        ``cancel`` is set the child is terminated and JobCancelledError raised.
        With ``heartbeat_s``, a ``Liveness`` is yielded whenever the child sent
        nothing for that long. The process ends with the job, however it ends;
        after a job that finished, it exits by itself: ``reap()`` waits for that.
        """
        finished = False
        try:
            # The jobs pipe stays open while the job runs: its end tells the process
            # the agent is gone (_exit_with_parent).
            with contextlib.suppress(OSError):  # it died before: EOF on items says how
                self._jobs.send((func, args))
            yield from _relay(self._items, self.process, cancel, heartbeat_s)
            finished = True
        finally:
            if finished:  # it exits right after its last item (_exit_now); reap() waits
                self._items.close()
            else:
                self.discard()

    def reap(self) -> None:
        """Wait until a process whose job finished is gone (ending it if it lingers)."""
        self.process.join(_JOIN_TIMEOUT_SEC)
        self.discard()

    def discard(self) -> None:
        """End the process (if it still runs) and wait until it is gone."""
        self._jobs.close()
        self._items.close()
        process = self.process
        if process.is_alive():
            process.terminate()
            _resume(process)
        process.join(_JOIN_TIMEOUT_SEC)
        if process.is_alive():
            process.kill()
            process.join()


def run_isolated(
    func: Callable[..., Iterator[Any]],
    args: tuple[Any, ...],
    cancel: Cancellation | None = None,
    heartbeat_s: float | None = None,
) -> Iterator[Any]:
    """Run generator ``func(*args)`` in a process started now (see ``JobProcess.run``)."""
    own_cancel = cancel is None
    cancel = cancel or Cancellation()
    process = JobProcess()
    try:
        yield from process.run(func, args, cancel, heartbeat_s)
    finally:
        process.reap()
        if own_cancel:
            cancel.close()


def _resume(process: multiprocessing.process.BaseProcess) -> None:
    """SIGCONT after SIGTERM: a stopped child would hold the signal pending, and we
    would wait the whole join timeout for nothing."""
    if process.pid is not None:
        with contextlib.suppress(OSError):  # already gone
            os.kill(process.pid, signal.SIGCONT)


def _relay(
    receiver: Connection,
    process: multiprocessing.process.BaseProcess,
    cancel: Cancellation,
    heartbeat_s: float | None,
) -> Iterator[Any]:
    last_item = last_beat = time.monotonic()
    while True:
        timeout = None
        if heartbeat_s is not None:
            timeout = max(0.0, max(last_item, last_beat) + heartbeat_s - time.monotonic())
        ready = wait([receiver, cancel.fileno()], timeout)
        if cancel.is_set():
            raise JobCancelledError("job cancelled")
        if not ready:
            last_beat = time.monotonic()
            yield _liveness(process, last_beat - last_item)
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


def _crash_message(process: multiprocessing.process.BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else code
        return f"the runtime crashed (killed by signal {name}); see the agent log"
    return f"the job's worker process exited unexpectedly (exit code {code})"


def _liveness(process: multiprocessing.process.BaseProcess, quiet_s: float) -> Liveness:
    try:
        child = psutil.Process(process.pid)
        with child.oneshot():
            cpu = child.cpu_times()
            return Liveness(quiet_s, child.status(), cpu.user + cpu.system)
    except (psutil.Error, ValueError):  # gone between two polls; EOF reports it next
        return Liveness(quiet_s, "unknown", 0.0)
