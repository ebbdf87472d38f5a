"""What a runner is given besides its job: the store, its worker's id, the devices, hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from controller.agent_client import ProgressCallback
from controller.devices import DeviceRegistry
from controller.events import ProfileEvent
from controller.job_follow import RunListener
from controller.jobs import JobState
from controller.store import RUNNING_STATES, JobRecord, Store


class JobHooks(Protocol):
    """Callbacks a worker's caller can attach to the jobs it submitted."""

    def listener(self, job: JobRecord, event: ProfileEvent) -> None: ...

    def upload_progress(self, job_id: str) -> ProgressCallback | None: ...


@dataclass
class RunContext:
    """What a runner needs besides the job."""

    store: Store
    worker_id: str
    registry: DeviceRegistry
    listener: RunListener | None = None
    upload_progress: ProgressCallback | None = None

    def move(self, job: JobRecord, state: JobState, message: str = "") -> JobRecord:
        """Move ``job`` on, as this worker's; ``JobStateError`` once it is no longer ours."""
        # Only from a running state: a job handed back (queued again, held by no
        # one) must not be failed, or taken back, by the run that gave it up.
        return self.store.transition(
            job.id, state, message, RUNNING_STATES, worker_id=self.worker_id
        )

    def cancelled(self, job: JobRecord) -> bool:
        """Whether the job was cancelled (failed by its user) while it ran."""
        return self.store.get_job(job.id).state is JobState.FAILED
