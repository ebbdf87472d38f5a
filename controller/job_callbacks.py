"""Where a submitter's ``listener`` and ``upload_progress`` callbacks are delivered from.

A job run by this process's own worker (``DEVICELAB_WORKER=inprocess``) calls them
directly from the worker's thread; a job run by a worker daemon or another host has
them fed from the events the store keeps, by a follower thread
(``controller/job_follow.py``).
"""

from __future__ import annotations

from typing import Any

from controller.agent_client import ProgressCallback
from controller.job_follow import EventFollower, EventListener, follow
from controller.store import Store


class JobCallbacks:
    """One process's callbacks, by job id; it is also the hook its in-process worker calls."""

    def __init__(self) -> None:
        self.listeners: dict[str, EventListener] = {}
        self.progress: dict[str, ProgressCallback] = {}
        self._followers: dict[str, EventFollower] = {}

    def attach(
        self,
        store: Store,
        job_id: str,
        listener: EventListener | None,
        upload_progress: ProgressCallback | None,
        *,
        in_process: bool,
    ) -> None:
        """Route ``job_id``'s callbacks: direct from this process's worker when
        ``in_process``, else from the store. Call it before a worker can claim the job."""
        if in_process:
            if listener is not None:
                self.listeners[job_id] = listener
            if upload_progress is not None:
                self.progress[job_id] = upload_progress
            return
        follower = follow(store, job_id, listener=listener, upload_progress=upload_progress)
        if follower is not None:
            self._followers[job_id] = follower

    def drain(self, job_id: str, timeout_sec: float = 10.0) -> None:
        """After the job ended: wait until its callbacks had every event (the CLI's order)."""
        follower = self._followers.pop(job_id, None)
        if follower is not None:
            follower.join(timeout_sec)

    # --- the worker's hooks (controller/runners.py JobHooks) ---------------------------

    def listener(self, job: Any, event: Any) -> None:
        """Deliver one agent event to the job's listener, if it has one."""
        listener = self.listeners.get(job.id)
        if listener is not None:
            listener(job, event)

    def upload_progress(self, job_id: str) -> ProgressCallback | None:
        """The job's upload-progress callback, if it has one."""
        return self.progress.get(job_id)
