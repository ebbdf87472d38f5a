"""The embedded durable store: SQLite (WAL) records plus content-addressed artifacts.

    from controller.store import Store, JobState
    store = Store.default()                       # $DEVICELAB_HOME/store
    model = store.add_model("mobilenet.tflite")
    job = store.create_job("profile", model.id, device_filter={"name": "Galaxy S24"})
    store.get_job(job.id).state                   # JobState.CREATED

Errors::

    UserError        unknown id, expired dataset, bad input (controller.errors)
    InternalError    database locked too long, newer schema, corrupt archive
    └── JobStateError  a transition refused: the job was not where the caller expected
"""

from controller.jobs import JobState
from controller.store._arrays import Samples
from controller.store._db import StoreCorruptError
from controller.store._jobs import TRANSITIONS, JobStateError
from controller.store._records import (
    JOB_KINDS,
    RUNNING_STATES,
    TERMINAL_STATES,
    DatasetRecord,
    DeviceRecord,
    EventRecord,
    JobKind,
    JobRecord,
    ModelRecord,
)
from controller.store._scheduling import DEFAULT_MAX_ATTEMPTS
from controller.store._schema import SCHEMA_VERSION
from controller.store._store import DEFAULT_DATASET_TTL_DAYS, Store

__all__ = [
    "DEFAULT_DATASET_TTL_DAYS",
    "DEFAULT_MAX_ATTEMPTS",
    "JOB_KINDS",
    "RUNNING_STATES",
    "SCHEMA_VERSION",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "DatasetRecord",
    "DeviceRecord",
    "EventRecord",
    "JobKind",
    "JobRecord",
    "JobState",
    "JobStateError",
    "ModelRecord",
    "Samples",
    "Store",
    "StoreCorruptError",
]
