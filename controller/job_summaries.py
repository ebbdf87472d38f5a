"""``get_job_summaries``: the cloud client's (0.56) bulk job listing, over the store.

    for s in hub.get_job_summaries(limit=10, state=hub.JobStatus.all_running_states()):
        print(f"{s.job_id}: {s.name} since {s.date}: {s.status.code}")

A summary is a frozen snapshot of one job row: id, name, date, status, type,
device name, and for inference (= profile) jobs the measured time and peak memory.
Where devicelab has no equivalent: ``username`` is ``""`` (the store records no
submitter) and ``creator`` is accepted and ignored, like ``project``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller.devices import LOCAL_DEVICE_NAME
from controller.job_handles import Job, job_handle
from controller.job_status import JobStatus, JobType, State, state_of
from controller.profile_shapes import client_profile
from controller.store import JobRecord, Store

# Rows read per store query while filtering: a page the size of a typical listing.
_PAGE_ROWS = 200


@dataclass(frozen=True)
class JobSummary:
    """Summary of a job and its current status (as the client's ``JobSummary``).

    Attributes:
        job_id: the job's id.
        name: the job's name.
        date: when the job was submitted.
        username: ``""``: the store records no submitter.
        status: the job's ``JobStatus`` (with its message, where the client has none).
        job_type: the job's ``JobType``.
        device_name: the device the job targets (None for quantize jobs).
        url: the job's page (on ``devicelab serve`` while it runs, else a ``file://``
            page written when read).
    """

    job_id: str
    name: str
    date: datetime
    username: str
    status: JobStatus
    job_type: JobType
    device_name: str | None
    # The handle behind ``url``: writing every listed job's page up front would cost
    # a report render per row, so the page is written only when ``url`` is read.
    _job: Job = field(repr=False, compare=False)

    @property
    def url(self) -> str:
        """The job's page (``Job.url``)."""
        return self._job.url

    def __str__(self) -> str:
        return f"Job(job_id={self.job_id}, device={self.device_name})"


@dataclass(frozen=True)
class CompileJobSummary(JobSummary):
    """Summary of a compile job; ``device_name`` is the device compiled for."""


@dataclass(frozen=True)
class QuantizeJobSummary(JobSummary):
    """Summary of a quantize job (``device_name`` is None: it runs on this host)."""


@dataclass(frozen=True)
class InferenceJobSummary(JobSummary):
    """Summary of an inference or profile job.

    Attributes:
        profiling: True for a profile job (devicelab's inference jobs do not profile).
        estimated_inference_time: median time per inference in microseconds, once measured.
        inference_memory_peak_range: (lower, upper) peak memory in bytes, once measured.
    """

    profiling: bool = False
    estimated_inference_time: int | None = None
    inference_memory_peak_range: tuple[int, int] | None = None


# As in the client: a profile job is an inference job with profiling on.
ProfileJobSummary = InferenceJobSummary


def _device_name(record: JobRecord) -> str:
    wanted = record.device_filter
    if wanted.get("name"):
        return str(wanted["name"])
    if not wanted.get("attributes"):
        return LOCAL_DEVICE_NAME  # no filter at all: this host
    return record.device_serial or ""  # picked by attributes: the device it ran on


def _measured(store: Store, record: JobRecord) -> dict[str, Any]:
    """estimated_inference_time / inference_memory_peak_range, if the job measured them."""
    result = store.get_result(record.id)
    summary = client_profile(result).get("execution_summary") if result else None
    if not isinstance(summary, dict):
        return {}
    return {
        "estimated_inference_time": summary.get("estimated_inference_time"),
        "inference_memory_peak_range": summary.get("inference_memory_peak_range"),
    }


def summary_of(store: Store, record: JobRecord) -> JobSummary:
    """The summary of one stored job."""
    job = job_handle(store, record)
    common: dict[str, Any] = {
        "job_id": record.id,
        "name": record.name,
        "date": record.created_at,
        "username": "",
        "status": JobStatus(record.state, record.message),
        "job_type": job._job_type,
        "_job": job,
    }
    if job._job_type is JobType.QUANTIZE:
        return QuantizeJobSummary(**common, device_name=None)
    if job._job_type is JobType.COMPILE:
        return CompileJobSummary(**common, device_name=_device_name(record))
    profiling = bool(getattr(job, "profiling", False))
    measured = _measured(store, record) if profiling else {}
    return InferenceJobSummary(
        **common, device_name=_device_name(record), profiling=profiling, **measured
    )


def _wanted_states(state: Any) -> set[State] | None:
    if state is None:
        return None
    states = [state] if isinstance(state, State | str) else list(state)
    return {state_of(s) for s in states}


def _matching(
    store: Store, states: set[State] | None, job_type: JobType | None
) -> Iterator[JobRecord]:
    """Jobs newest first, filtered here: the store filters one state and one kind, and a
    quantize job is a compile row told apart by its spec."""
    offset = 0
    while rows := store.list_jobs(_PAGE_ROWS, offset):
        for record in rows:
            if states is not None and state_of(record.state) not in states:
                continue
            if job_type is None or job_handle(store, record)._job_type is job_type:
                yield record
        offset += len(rows)


def job_summaries(
    store: Store,
    offset: int = 0,
    limit: int = 50,
    state: Any = None,
    job_type: JobType | None = None,
) -> list[JobSummary]:
    """Summaries of the jobs matching ``state`` (one or a list) and ``job_type``, newest
    first, skipping ``offset`` matches and returning at most ``limit``."""
    if limit <= 0:
        return []
    found: list[JobSummary] = []
    for index, record in enumerate(_matching(store, _wanted_states(state), job_type)):
        if index >= offset:
            found.append(summary_of(store, record))
        if len(found) == limit:
            break
    return found
