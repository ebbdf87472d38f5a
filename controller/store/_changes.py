"""Wakes this process's waiters when a job's state moves, instead of a sleep loop.

Every committed move of a job's state (a transition, a claim, a recovery, a
hand-back) bumps a counter per database file, and ``wait_after`` sleeps on a
condition until the counter moves. ``Job.wait()`` used to sleep 0.1 s between
reads: ~50 ms of a tiny job's submit -> result went on that sleep alone
(``scripts/bench_latency.py``). A waiter still reads the job after each wake-up,
so a move it does not care about costs one read.

Writers in other processes (the worker daemon) do not reach this counter; a
waiter bounds its sleep by a poll interval for them.
"""

from __future__ import annotations

import threading


class StoreChanges:
    """A counter of job moves with a condition to sleep on.

    Example:
        changes = changes_of(str(db_path))
        seen = changes.count
        ...                                  # read the state you wait on
        seen = changes.wait_after(seen, 1.0) # returns at the next move, or after 1 s
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.count = 0

    def mark(self) -> None:
        """A move committed: wake every waiter."""
        with self._condition:
            self.count += 1
            self._condition.notify_all()

    def wait_after(self, seen: int, timeout_s: float) -> int:
        """Sleep until a move after ``seen`` (or ``timeout_s``); the count now."""
        with self._condition:
            self._condition.wait_for(lambda: self.count != seen, timeout_s)
            return self.count


_lock = threading.Lock()
_by_store: dict[str, StoreChanges] = {}


def changes_of(store: str) -> StoreChanges:
    """The one ``StoreChanges`` of a store in this process (its file's resolved path,
    or its PostgreSQL URL)."""
    with _lock:
        return _by_store.setdefault(store, StoreChanges())
