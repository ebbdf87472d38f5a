"""The SQLite store's schema, versioned by SQLite's ``user_version``.

PostgreSQL's steps (``_postgres_schema``) carry the same numbers: step ``n``
makes the same change on both engines, so a test keeps the two lists equally long.

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``. A released
step is never edited: a schema change is a new step appended to the list. The
SQL is literal text, not built from Python constants, for the same reason.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from controller.errors import InternalError

_V1 = (
    """CREATE TABLE models (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        model_type TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        created_at REAL NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX models_by_created ON models (created_at)",
    """CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX datasets_by_created ON datasets (created_at)",
    """CREATE TABLE devices (
        serial TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        os_version TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '[]',
        info TEXT NOT NULL DEFAULT '{}',
        last_seen REAL NOT NULL
    )""",
    """CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL
    )""",
    """CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('compile', 'profile', 'inference')),
        name TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('created', 'optimizing model',
            'quantizing model', 'provisioning device', 'measuring performance',
            'running inference', 'success', 'failed')),
        message TEXT NOT NULL DEFAULT '',
        model_id TEXT NOT NULL REFERENCES models (id),
        dataset_id TEXT REFERENCES datasets (id),
        device_filter TEXT NOT NULL DEFAULT '{}',
        device_serial TEXT,
        options TEXT NOT NULL DEFAULT '',
        parent_job_id TEXT REFERENCES jobs (id),
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        worker_id TEXT REFERENCES workers (id),
        attempt INTEGER NOT NULL DEFAULT 1
    )""",
    "CREATE INDEX jobs_queue ON jobs (state, created_at)",
    "CREATE INDEX jobs_by_created ON jobs (created_at)",
    "CREATE INDEX jobs_by_worker ON jobs (worker_id)",
    # The database itself refuses a second running job on one device, whatever
    # the code above it does: the scheduler's check is the fast path, this is the law.
    """CREATE UNIQUE INDEX jobs_one_running_per_device ON jobs (device_serial)
        WHERE device_serial IS NOT NULL AND state NOT IN ('created', 'success', 'failed')""",
    """CREATE TABLE job_events (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload BLOB NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (job_id, attempt, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE job_results (
        job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        result TEXT,
        output_sha256 TEXT,
        updated_at REAL NOT NULL
    )""",
)

# v2: what a job needs beyond its options string (input specs, inference
# settings, compile targets), as one JSON object the runners read back.
_V2 = ("ALTER TABLE jobs ADD COLUMN spec TEXT NOT NULL DEFAULT '{}'",)

# v3: the device health state machine (controller/device_states.py): each device's
# state and why, every transition with its time and reason, and a job's retries
# after device failures (JSON list of {device, reason, at}).
_V3 = (
    """CREATE TABLE device_health (
        serial TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('available', 'suspect', 'recovering',
            'resting', 'offline', 'quarantined')),
        reason TEXT NOT NULL DEFAULT '',
        since REAL NOT NULL,
        failed_recoveries INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE device_transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        serial TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL,
        job_id TEXT,
        at REAL NOT NULL
    )""",
    "CREATE INDEX device_transitions_by_serial ON device_transitions (serial, id)",
    "ALTER TABLE jobs ADD COLUMN retries TEXT NOT NULL DEFAULT '[]'",
)

# v4: scheduling facts the claim filters in SQL (controller/store/_scheduling.py): who
# submitted a job, when each submitter was last served (fair claiming), the parent a
# job waits for, the host a job's device is on. Queued children of parents that had
# already failed fail here, as the worker used to fail them on its next look at the queue.
_V4 = (
    "ALTER TABLE jobs ADD COLUMN submitter TEXT NOT NULL DEFAULT ''",
    "CREATE TABLE submitters (name TEXT PRIMARY KEY, last_served INTEGER NOT NULL)",
    "CREATE INDEX jobs_by_parent ON jobs (parent_job_id) WHERE parent_job_id IS NOT NULL",
    # A device serial names a device on one host ("local", "host-compiler" exist on
    # every host): the claiming worker's host is recorded, and the one-running-job
    # law holds per (host, serial). On one host nothing changes.
    "ALTER TABLE jobs ADD COLUMN host TEXT",
    "DROP INDEX jobs_one_running_per_device",
    """CREATE UNIQUE INDEX jobs_one_running_per_device ON jobs (coalesce(host, ''), device_serial)
        WHERE device_serial IS NOT NULL AND state NOT IN ('created', 'success', 'failed')""",
    """UPDATE jobs SET state = 'failed', finished_at = updated_at,
        message = 'not run: job ' || parent_job_id || ' it depends on failed: ' ||
            (SELECT p.message FROM jobs AS p WHERE p.id = jobs.parent_job_id)
        WHERE state = 'created'
            AND parent_job_id IN (SELECT id FROM jobs WHERE state = 'failed')""",
)

# v5: regression suite runs (controller/regress): one row per run, one per entry x
# device in it; `detail` holds the comparison, the candidate's kept samples (packed)
# and the top layers. Read back as an entry's nightly history.
_V5 = (
    """CREATE TABLE regress_runs (
        id TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL NOT NULL,
        outcome TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX regress_runs_by_started ON regress_runs (started_at)",
    """CREATE TABLE regress_results (
        run_id TEXT NOT NULL REFERENCES regress_runs (id) ON DELETE CASCADE,
        entry TEXT NOT NULL,
        device_serial TEXT NOT NULL,
        verdict TEXT NOT NULL,
        candidate_model_id TEXT,
        candidate_median_us REAL,
        created_at REAL NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, entry, device_serial)
    )""",
    "CREATE INDEX regress_results_by_entry ON regress_results (entry, device_serial, created_at)",
)

# v6: a lab of many hosts (controller/store/_hosts.py). A device serial names a device
# on one host, so the devices a worker publishes and each device's health are keyed by
# (host, serial); rows from before have host '' and go to the first host that opens the
# store (Store.adopt_unhosted: on one host, its own). A queued job no live host has a
# device for records since when (it fails after DEVICELAB_UNPLACED_TIMEOUT_S).
# PostgreSQL's step also creates the artifact tables (SQLite keeps artifacts in files).
_V6 = (
    """CREATE TABLE devices_v6 (
        host TEXT NOT NULL DEFAULT '',
        serial TEXT NOT NULL,
        name TEXT NOT NULL,
        os_version TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '[]',
        info TEXT NOT NULL DEFAULT '{}',
        last_seen REAL NOT NULL,
        PRIMARY KEY (host, serial)
    )""",
    """INSERT INTO devices_v6 (serial, name, os_version, attributes, info, last_seen)
        SELECT serial, name, os_version, attributes, info, last_seen FROM devices""",
    "DROP TABLE devices",
    "ALTER TABLE devices_v6 RENAME TO devices",
    """CREATE TABLE device_health_v6 (
        host TEXT NOT NULL DEFAULT '',
        serial TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('available', 'suspect', 'recovering',
            'resting', 'offline', 'quarantined')),
        reason TEXT NOT NULL DEFAULT '',
        since REAL NOT NULL,
        failed_recoveries INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (host, serial)
    )""",
    """INSERT INTO device_health_v6 (serial, state, reason, since, failed_recoveries)
        SELECT serial, state, reason, since, failed_recoveries FROM device_health""",
    "DROP TABLE device_health",
    "ALTER TABLE device_health_v6 RENAME TO device_health",
    "ALTER TABLE device_transitions ADD COLUMN host TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jobs ADD COLUMN unplaced_since REAL",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
SCHEMA_VERSION = len(MIGRATIONS)
#: The first version whose devices and health rows name their host (Store.__init__).
HOSTS_SCHEMA_VERSION = MIGRATIONS.index(_V6) + 1


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema to ``SCHEMA_VERSION``; call inside a write transaction.

    The version is read again under the write lock, so when several processes
    open a new store at once exactly one of them creates the tables.

    Example:
        with db.write() as conn:
            migrate(conn, db.path)   # -> 1
    """
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise InternalError(
            f"store {path} has schema version {current}, newer than this devicelab "
            f"understands ({SCHEMA_VERSION}); upgrade devicelab"
        )
    for version in range(current, SCHEMA_VERSION):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    # PRAGMA takes no parameters; the value is our own integer.
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return SCHEMA_VERSION
