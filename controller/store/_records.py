"""What the store hands out: plain frozen dataclasses, one per kind of row.

Timestamps are timezone-aware UTC ``datetime``s; ``metadata``/``info`` dicts and
``device_filter`` are the JSON the caller stored, given back as-is.

Example:
    record = store.get_model("m3k9x0a1b")
    record.model_type, record.sha256[:8]    # ("tflite", "9f86d081")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from controller.jobs import JobState

JobKind = Literal["compile", "profile", "inference"]
JOB_KINDS: tuple[JobKind, ...] = ("compile", "profile", "inference")

# A queued job waits in CREATED; every other non-terminal state means a worker
# (and usually a device) holds the job.
TERMINAL_STATES = frozenset({JobState.SUCCESS, JobState.FAILED})
RUNNING_STATES = frozenset(JobState) - TERMINAL_STATES - {JobState.CREATED}


@dataclass(frozen=True)
class ModelRecord:
    """An uploaded model file; its bytes are the artifact ``sha256``."""

    id: str
    name: str
    model_type: str
    sha256: str
    size_bytes: int
    created_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetRecord:
    """An uploaded dataset (an ``.npz`` artifact); ``expired`` is computed when read."""

    id: str
    name: str
    sha256: str
    created_at: datetime
    expires_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    expired: bool = False


@dataclass(frozen=True)
class DeviceRecord:
    """A device a host's worker reaches; ``last_seen=None`` means "now" when upserted."""

    serial: str
    name: str
    os_version: str
    attributes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    last_seen: datetime | None = None
    #: The host whose worker reaches it (``DEVICELAB_HOST``); stores set it on upsert.
    host: str = ""


@dataclass(frozen=True)
class JobRecord:
    """A job row. ``worker_id``/``device_serial``/``host`` name who holds (or last held) it.

    ``attempt`` counts the runs a worker lost; a run writes with its attempt and
    worker, so a late write from a lost run is refused (a fencing token).
    """

    id: str
    kind: JobKind
    name: str
    state: JobState
    message: str
    model_id: str
    dataset_id: str | None
    device_filter: dict[str, Any]
    device_serial: str | None
    options: str
    parent_job_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None
    attempt: int
    spec: dict[str, Any] = field(default_factory=dict)  # runner inputs beyond the options
    # Runs that ended for a device reason and were queued again: [{device, reason, at}].
    retries: list[dict[str, Any]] = field(default_factory=list)
    submitter: str = ""  # who queued it: claims serve submitters in turn (_scheduling.py)
    host: str | None = None  # the host of the worker holding (or last holding) it

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


@dataclass(frozen=True)
class EventRecord:
    """One event streamed by the agent, as persisted (``payload`` is opaque bytes)."""

    job_id: str
    attempt: int
    seq: int
    kind: str
    payload: bytes
    created_at: datetime
