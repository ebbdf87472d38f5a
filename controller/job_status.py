"""The cloud client's ``JobStatus``, ``JobType`` and ``QuantizeDtype``, over devicelab's jobs.

The store keeps ``controller.jobs.JobState`` (lower-case words, the SQL check
constraint); scripts see the client's enum: the same member names, the client's
integer values, and the comparisons its users write::

    status = job.wait()
    status.code == "SUCCESS"                  # the state's name, a str
    status == hub.JobStatus.State.SUCCESS     # a status equals its state...
    status == "SUCCESS"                       # ...and its code
    status.message                            # None unless the job says why
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from controller.jobs import JobState


class State(enum.Enum):
    """A job's state; members and values as in the cloud client 0.56."""

    # The client's member order (it decides all_running_states()'s order).
    SUCCESS = 10
    FAILED = 30
    CREATED = 1
    UNSPECIFIED = 0
    OPTIMIZING_MODEL = 50
    PROVISIONING_DEVICE = 60
    MEASURING_PERFORMANCE = 70
    RUNNING_INFERENCE = 80
    QUANTIZING_MODEL = 90
    LINKING_MODELS = 100

    @classmethod
    def _missing_(cls, value: object) -> State:
        # The client maps a state it does not know to UNSPECIFIED rather than fail.
        return cls.UNSPECIFIED


_State = State  # the name inside JobStatus, where "State" is the class attribute

_TERMINAL = frozenset({State.SUCCESS, State.FAILED})
# UNSPECIFIED counts as running in the client (a job it cannot place yet).
_NOT_RUNNING = _TERMINAL | {State.CREATED}


def state_of(state: JobState | State | str) -> State:
    """The client's state for a store state, a client state, or a name ("SUCCESS")."""
    if isinstance(state, State):
        return state
    if isinstance(state, JobState):
        return State[state.name]
    try:
        return State[state.upper().replace(" ", "_")]
    except KeyError:
        return State.UNSPECIFIED


def store_state(state: JobState | State | str) -> JobState | None:
    """The store's state for any spelling; None for client states devicelab never enters."""
    if isinstance(state, JobState):
        return state
    name = state_of(state).name
    return JobState[name] if name in JobState.__members__ else None


class _Code(str):
    """The state's name ("SUCCESS"), a plain str to compare; ``.value`` keeps devicelab's
    earlier spelling ("success"), so scripts written against ``status.code.value`` still run."""

    @property
    def value(self) -> str:
        return self.lower().replace("_", " ")


@dataclass(unsafe_hash=True, init=False)
class JobStatus:
    """Status of a job: ``state`` (``JobStatus.State``) and a ``message`` (None when empty).

    ``code`` is the state's name as a str ("SUCCESS", "MEASURING_PERFORMANCE").
    """

    State: ClassVar[type[_State]] = _State

    state: _State
    message: str | None

    def __init__(self, state: _State | JobState | str, message: str | None = None) -> None:
        self.state = state_of(state)
        self.message = message or None  # the store keeps "" for no message

    @staticmethod
    def all_running_states() -> list[_State]:
        """Every state in which a job runs (neither pending nor finished)."""
        return [state for state in _State if state not in _NOT_RUNNING]

    @property
    def code(self) -> str:
        """The state's name, e.g. "SUCCESS"."""
        return _Code(self.state.name)

    @property
    def label(self) -> str:
        """devicelab extension: the state in words ("measuring performance"), for CLI text."""
        return self.state.name.lower().replace("_", " ")

    @property
    def symbol(self) -> str:
        """One character for tables: a cross, a tick, or an hourglass."""
        if self.failure:
            return "\N{CROSS MARK}"
        if self.success:
            return "\N{WHITE HEAVY CHECK MARK}"
        return "" if self.state is _State.UNSPECIFIED else "\N{HOURGLASS WITH FLOWING SAND}"

    @property
    def success(self) -> bool:
        """True if the job finished successfully."""
        return self.state is _State.SUCCESS

    @property
    def failure(self) -> bool:
        """True if the job failed (or was cancelled)."""
        return self.state is _State.FAILED

    @property
    def finished(self) -> bool:
        """True once the job succeeded or failed."""
        return self.state in _TERMINAL

    @property
    def running(self) -> bool:
        """True while the job runs (not pending, not finished)."""
        return self.state not in _NOT_RUNNING

    @property
    def pending(self) -> bool:
        """True while the job waits to start."""
        return self.state is _State.CREATED

    def __eq__(self, other: Any) -> bool:
        # As the client: a status equals its _State member and its code string.
        if isinstance(other, _State):
            return self.state is other
        if isinstance(other, str):
            return self.code == other
        if isinstance(other, JobStatus):
            return self.state is other.state and self.message == other.message
        return NotImplemented

    def __repr__(self) -> str:
        return f"JobStatus(code={self.code!r}, message={self.message!r})"


class JobType(enum.Enum):
    """The type of a job; values as in the cloud client (PROFILE is INFERENCE's alias)."""

    COMPILE = 3
    INFERENCE = 2
    PROFILE = 2  # profile jobs are inference jobs to the client; INFERENCE stays first
    QUANTIZE = 4
    LINK = 5
    UNSPECIFIED = 0

    @property
    def display_name(self) -> str:
        """The type in lower case, e.g. "compile"."""
        return self.name.lower()


class QuantizeDtype(enum.Enum):
    """Data types for quantize jobs; members and values as in the cloud client 0.56."""

    INT8 = 1
    INT16 = 3
    INT4 = 5


def job_kinds(job_type: JobType | str | None) -> tuple[str, ...] | None:
    """The store's job kinds for a ``JobType`` or a kind string (None: every kind).

    INFERENCE (alias PROFILE) covers devicelab's profile and inference jobs;
    QUANTIZE jobs are compile jobs in the store (they run the same host compiler).
    """
    if job_type is None:
        return None
    if isinstance(job_type, JobType):
        if job_type in (JobType.COMPILE, JobType.QUANTIZE):
            return ("compile",)
        return ("profile", "inference") if job_type is JobType.INFERENCE else ()
    return (job_type,)
