"""A submitter's ``listener`` and ``upload_progress``, fed from the events the store keeps.

A listener is called as ``listener(job, event)``: ``job`` is the public handle
(``ProfileJob``, as ``submit_profile_job`` returned it: ``job.job_id``,
``job.get_status()``, ``job.cancel()`` work from inside it) and ``event`` one of
``controller.events`` (never a protobuf message or a store record).

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
from controller.events import ProfileEvent, events_from_stored
from controller.job_handles import Job, job_handle
from controller.store import EventRecord, JobRecord, Store

log = logging.getLogger("devicelab.follow")

EventListener = Callable[[Job, ProfileEvent], None]
"""What ``submit_profile_job(listener=...)`` takes: the job's handle and an event."""
RunListener = Callable[[JobRecord, ProfileEvent], None]
"""What a worker calls as it runs a job (``controller/runners.py``): its record and an event."""
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
        self._job: Job | None = None  # the handle, made on the first event
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
            if self._job is None:
                self._job = job_handle(self.store, record)
            for domain in events_from_stored([(event.kind, event.payload)]):
                self.listener(self._job, domain)


def follow(store: Store, job_id: str, **callbacks: Any) -> EventFollower | None:
    """Start a follower for the callbacks given (None when none is)."""
    if not any(callback is not None for callback in callbacks.values()):
        return None
    return EventFollower(store, job_id, **callbacks).start()


def run_listener(store: Store, listener: EventListener) -> RunListener:
    """``listener`` as a worker in this process calls it: with the job's public handle.

    Example (the in-process worker's hook):
        run_listener(store, user_listener)(job_record, event)
    """
    handles: dict[str, Job] = {}

    def call(record: JobRecord, event: ProfileEvent) -> None:
        if record.id not in handles:
            handles[record.id] = job_handle(store, record)
        listener(handles[record.id], event)

    return call
