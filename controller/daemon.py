"""The worker daemon: jobs outlive the script that submitted them, as adb's server does.

When a script submits a job and no worker serves the store, the API starts one
detached worker process for that store (its own session, no terminal, output
to ``$DEVICELAB_HOME/worker.log``); it runs every queued job to the end and
exits once the store has had no queued or running job for
``DEVICELAB_WORKER_IDLE_EXIT_S`` seconds.

"A worker serves this store" is one fact: an exclusive ``flock`` on
``<store>/worker.lock``, held by the serving worker for its whole life (the
kernel drops it when that process dies, however it dies, so it never goes
stale). A submitter that finds the lock free takes it, starts the daemon with
the locked file handed down, and closes its own copy: the lock passes to the
daemon without a moment free, so racing submits start exactly one daemon.

``devicelab worker`` (a lab's explicit worker) takes the same lock, so no
daemon starts beside it. If a daemon already holds it, both run until the
daemon idles out: claiming is atomic in the store and a device runs one job
at a time, so two workers never run the same job; the explicit worker takes
the lock as soon as it is free.

Settings:
    DEVICELAB_WORKER: ``daemon`` (default) starts the daemon on submit;
        ``inprocess`` runs jobs in a thread of the submitting process (tests,
        benchmarks; jobs die with the script); ``none`` starts nothing (a lab
        runs ``devicelab worker``). The older ``DEVICELAB_INPROCESS_WORKER=1``
        means ``inprocess``, ``=0`` means ``none``.
    DEVICELAB_WORKER_IDLE_EXIT_S: the daemon's idle period (default 300).
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Literal

from controller import settings
from controller.jobs import JobState
from controller.runtime_python import runtime_python
from controller.store import Store

log = logging.getLogger("devicelab.daemon")

WorkerMode = Literal["inprocess", "daemon", "none"]
LOCK_NAME = "worker.lock"
LOG_NAME = "worker.log"
# How often the daemon looks at the store for work (a cheap read) and at its lock.
_TICK_S = 0.5
_MODES: tuple[WorkerMode, ...] = ("inprocess", "daemon", "none")
_LEGACY_MODES: dict[str, WorkerMode] = {"1": "inprocess", "0": "none"}
# Not ``-m controller.daemon``: the package imports this module first, and runpy
# would then run a second copy of it.
_DAEMON_MAIN = "import sys; from controller.daemon import main; sys.exit(main(sys.argv[1:]))"
_UNFINISHED = (
    JobState.CREATED,
    JobState.OPTIMIZING_MODEL,
    JobState.QUANTIZING_MODEL,
    JobState.PROVISIONING_DEVICE,
    JobState.MEASURING_PERFORMANCE,
    JobState.RUNNING_INFERENCE,
)


def worker_mode() -> WorkerMode:
    """Who runs submitted jobs: ``DEVICELAB_WORKER`` (see the module docstring)."""
    value = settings.choice("DEVICELAB_WORKER")
    if value in _MODES:
        return value  # type: ignore[return-value]
    return _LEGACY_MODES.get(settings.choice("DEVICELAB_INPROCESS_WORKER"), "daemon")


def idle_exit_s() -> float:
    """Seconds without queued or running jobs before the daemon exits
    (``DEVICELAB_WORKER_IDLE_EXIT_S``, default 300)."""
    return settings.seconds("DEVICELAB_WORKER_IDLE_EXIT_S")


def log_path() -> Path:
    """The daemon's log: ``$DEVICELAB_HOME/worker.log``."""
    return settings.home_dir() / LOG_NAME


class StoreLock:
    """The exclusive ``flock`` that says "a worker serves this store"."""

    def __init__(self, store_root: Path, fd: int | None = None) -> None:
        self.path = Path(store_root) / LOCK_NAME
        self.fd = fd  # an inherited, already locked handle (the daemon's)

    @property
    def held(self) -> bool:
        return self.fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if no one holds it; True when this process now holds it."""
        if self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def announce(self, pid: int) -> None:
        """Write the holder's pid into the lock file (for ``--status`` / ``--stop``)."""
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{pid}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last handle drops the flock
            self.fd = None


def serving_pid(store_root: Path) -> int | None:
    """The pid of the worker holding the store's lock, or None when none serves it.

    Reads without taking the lock: probing by taking it would, for a moment,
    make a racing submitter believe a worker serves the store.
    """
    try:
        pid = int((Path(store_root) / LOCK_NAME).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _alive(pid) or not _holds_lock(pid, Path(store_root) / LOCK_NAME):
        return None
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited child its parent has not reaped yet is a zombie, not a worker
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _holds_lock(pid: int, path: Path) -> bool:
    """Has ``pid`` the lock file open (``/proc/PID/fd``)? A recycled pid then never
    passes for the worker. (``/proc/locks`` names the process that took a flock,
    the submitter, not the daemon it handed the lock to.) True where /proc is missing."""
    target = str(path.resolve())
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return True
    for fd in fds:
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:
            continue
    return False


def ensure_daemon(store_root: Path, url: str | None = None) -> int | None:
    """Start a worker daemon for the store unless a worker serves it on this host.

    ``url``: the store's PostgreSQL database, when its records live there (the
    lock stays in ``store_root``: one daemon per host and store).

    Returns the new daemon's pid, or None when a worker already serves the
    store. The lock taken here is handed down to the daemon, so the store is
    never without its lock between this check and the daemon's start.
    """
    lock = StoreLock(store_root)
    if not lock.try_acquire():
        return None
    assert lock.fd is not None
    try:
        with open(log_path(), "ab") as log_file:
            process = subprocess.Popen(
                [runtime_python(), "-c", _DAEMON_MAIN, "--store", str(store_root)]
                + ["--lock-fd", str(lock.fd)]
                + (["--url", url] if url else []),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                pass_fds=(lock.fd,),
                start_new_session=True,  # no terminal: ^C in the script's shell spares it
                cwd="/",
                env={**os.environ, "PYTHONPATH": _import_path()},
            )
    finally:
        lock.release()  # the daemon holds the lock now (same open file description)
    # Reap it if this process outlives it (no zombie); a daemon thread, so it never
    # keeps the script alive: at exit the daemon is re-parented to init.
    threading.Thread(target=process.wait, name="devicelab-daemon-reaper", daemon=True).start()
    return process.pid


def _import_path() -> str:
    """This checkout first, so the daemon runs the same controller as its submitter."""
    root = str(Path(__file__).resolve().parent.parent)
    rest = os.environ.get("PYTHONPATH", "")
    return f"{root}{os.pathsep}{rest}" if rest else root


def stop_worker(store_root: Path, timeout_sec: float = 30.0) -> int | None:
    """Ask the worker serving the store to stop (SIGTERM) and wait until it is gone.

    Returns its pid, or None when no worker served the store. Jobs it was
    running it hands back (re-queued at once); after a SIGKILL (no exit within
    ``timeout_sec``) the next worker re-queues them once its heartbeat is stale.
    """
    pid = serving_pid(store_root)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_sec
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return pid


def has_work(store: Store) -> bool:
    """Is any job queued or running in the store (by any worker)?"""
    return any(store.list_jobs(limit=1, state=state) for state in _UNFINISHED)


def serve(store: Store, lock: StoreLock, idle_exit_sec: float | None) -> None:
    """Run a worker for the store until SIGTERM/^C, or until idle that long.

    Used by the daemon (idle exit) and by ``devicelab worker`` (no idle exit).
    Without the lock at start (a daemon serves already), it runs beside that
    one and takes the lock once it is free.
    """
    from controller.devices import DeviceRegistry
    from controller.worker import Worker

    stopping = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    registry = DeviceRegistry()
    worker = Worker(store, registry).start()
    if lock.held:
        lock.announce(os.getpid())
    log.info("worker %s serving %s (pid %d)", worker.worker_id, store.root, os.getpid())
    try:
        _serve_loop(store, lock, worker, stopping, idle_exit_sec)
    finally:
        # Running jobs are handed back (re-queued at once) before their agents close.
        why = f"{received[0]} to the worker" if received else "the worker stopped"
        worker.stop(timeout_sec=5.0, why=why)
        registry.close()
        lock.release()
        log.info("worker %s stopped", worker.worker_id)


def _serve_loop(
    store: Store,
    lock: StoreLock,
    worker: object,
    stopping: threading.Event,
    idle_exit_sec: float | None,
) -> None:
    idle_since = time.monotonic()
    while not stopping.wait(_TICK_S):
        if not lock.held and lock.try_acquire():
            lock.announce(os.getpid())
        if idle_exit_sec is None:
            continue  # a lab's worker: never idles out, no need to read the queue here
        if getattr(worker, "busy", False) or has_work(store):
            idle_since = time.monotonic()
            continue
        if idle_exit_sec is None or time.monotonic() - idle_since < idle_exit_sec:
            continue
        # Release first, then look once more: a submit whose job we miss here
        # finds the lock free and starts a new daemon; one we see, we serve.
        lock.release()
        if has_work(store):
            idle_since = time.monotonic()
            continue
        log.info("idle for %.0f s; exiting", idle_exit_sec)
        return


def main(argv: list[str] | None = None) -> int:
    """The daemon's entry point, started by ``ensure_daemon`` (``--store``, ``--lock-fd``)."""
    parser = argparse.ArgumentParser(prog="devicelab-worker-daemon")
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--lock-fd", type=int, help="the store's lock, already held")
    parser.add_argument("--url", help="the store's PostgreSQL database (postgresql://...)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s [worker-daemon {os.getpid()}] %(levelname)s %(name)s: %(message)s",
    )
    lock = StoreLock(args.store, args.lock_fd)
    if not lock.try_acquire():
        log.info("another worker serves %s; exiting", args.store)
        return 0
    serve(Store(args.store, url=args.url), lock, idle_exit_s())
    return 0


if __name__ == "__main__":
    sys.exit(main())
