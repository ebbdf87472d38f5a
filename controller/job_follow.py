"""A submitter's ``listener`` and ``upload_progress``, fed from the events the store keeps.

The worker that runs a job usually lives in another process (the worker
daemon), so callbacks cannot travel with the job. The worker persists every
agent event as it arrives, and the push progress as ``push`` events; a
follower thread in the submitting process reads them back and calls the
callbacks in order. It runs only while a callback is attached and the job is
unfinished, and ends after the job's last events were delivered.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from controller.agent_client import ProgressCallback
from controller.store import EventRecord, JobRecord, Store
from protos import agent_pb2 as pb

log = logging.getLogger("devicelab.follow")

EventListener = Callable[[JobRecord, pb.ProfileEvent], None]
# A store read per poll; 0.1 s keeps the CLI's stage lines prompt at negligible cost.
POLL_INTERVAL_SEC = 0.1


class EventFollower:
    """Delivers one job's stored events to callbacks, in ``seq`` order, once each.

    Example:
        follower = EventFollower(store, job_id, listener=print).start()
        ...
        follower.join(5.0)   # after the job ended: every event was delivered
    """

    def __init__(
        self,
        store: Store,
        job_id: str,
        listener: EventListener | None = None,
        upload_progress: ProgressCallback | None = None,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.listener = listener
        self.upload_progress = upload_progress
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"devicelab-follow-{job_id}", daemon=True
        )

    def start(self) -> EventFollower:
        self._thread.start()
        return self

    def join(self, timeout_sec: float | None = None) -> None:
        """Wait until the job's events were all delivered (the job has ended)."""
        self._thread.join(timeout_sec)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        attempt: int | None = None
        last_seq: int | None = None
        while True:
            record = self.store.get_job(self.job_id)
            if record.attempt != attempt:  # a recovered job runs again: its events restart
                attempt, last_seq = record.attempt, None
            for event in self.store.events(self.job_id, attempt=attempt):
                if last_seq is None or event.seq > last_seq:
                    last_seq = event.seq
                    self._deliver(record, event)
            if record.finished or self._stop.wait(POLL_INTERVAL_SEC):
                return

    def _deliver(self, record: JobRecord, event: EventRecord) -> None:
        if event.kind == "push":
            if self.upload_progress is not None:
                done, total = json.loads(event.payload)
                self.upload_progress(int(done), int(total))
        elif self.listener is not None:
            self.listener(record, pb.ProfileEvent.FromString(event.payload))


def follow(store: Store, job_id: str, **callbacks: Any) -> EventFollower | None:
    """Start a follower for the callbacks given (None when none is)."""
    if not any(callback is not None for callback in callbacks.values()):
        return None
    return EventFollower(store, job_id, **callbacks).start()
