"""The PostgreSQL store's schema: the same steps as SQLite's ``_schema``, in PostgreSQL's words.

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1`` and makes the
change SQLite's step ``n`` makes (numbers stay aligned, a test checks the
lengths). The version lives in a one-row table, ``devicelab_schema``. A
released step is never edited. Differences from SQLite's text, and why:

- times are ``DOUBLE PRECISION`` Unix seconds (``REAL`` is 4 bytes here);
- ``BYTEA`` for event payloads;
- tables read in insertion order declare ``rowid`` (SQLite's is implicit), so
  ``ORDER BY created_at, rowid`` is one text on both engines.
"""

from __future__ import annotations

from controller.errors import InternalError
from controller.store._sql import Connection

_V1 = (
    """CREATE TABLE models (
        id TEXT PRIMARY KEY,
        rowid BIGINT GENERATED ALWAYS AS IDENTITY,
        name TEXT NOT NULL,
        model_type TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size_bytes BIGINT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX models_by_created ON models (created_at)",
    """CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        rowid BIGINT GENERATED ALWAYS AS IDENTITY,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX datasets_by_created ON datasets (created_at)",
    """CREATE TABLE devices (
        serial TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        os_version TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '[]',
        info TEXT NOT NULL DEFAULT '{}',
        last_seen DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        heartbeat_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        rowid BIGINT GENERATED ALWAYS AS IDENTITY,
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
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION,
        worker_id TEXT REFERENCES workers (id),
        attempt INTEGER NOT NULL DEFAULT 1
    )""",
    "CREATE INDEX jobs_queue ON jobs (state, created_at)",
    "CREATE INDEX jobs_by_created ON jobs (created_at)",
    "CREATE INDEX jobs_by_worker ON jobs (worker_id)",
    """CREATE UNIQUE INDEX jobs_one_running_per_device ON jobs (device_serial)
        WHERE device_serial IS NOT NULL AND state NOT IN ('created', 'success', 'failed')""",
    """CREATE TABLE job_events (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload BYTEA NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (job_id, attempt, seq)
    )""",
    """CREATE TABLE job_results (
        job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        result TEXT,
        output_sha256 TEXT,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
)

_V2 = ("ALTER TABLE jobs ADD COLUMN spec TEXT NOT NULL DEFAULT '{}'",)

# v3: as SQLite's v3, the device health machine (controller/device_states.py).
_V3 = (
    """CREATE TABLE device_health (
        serial TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('available', 'suspect', 'recovering',
            'resting', 'offline', 'quarantined')),
        reason TEXT NOT NULL DEFAULT '',
        since DOUBLE PRECISION NOT NULL,
        failed_recoveries INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE device_transitions (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        serial TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL,
        job_id TEXT,
        at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX device_transitions_by_serial ON device_transitions (serial, id)",
    "ALTER TABLE jobs ADD COLUMN retries TEXT NOT NULL DEFAULT '[]'",
)

# v4: as SQLite's v4 (submitter, submitters, the parent index, the host of a claim).
# No old queued children to fail: no PostgreSQL store predates this step.
_V4 = (
    "ALTER TABLE jobs ADD COLUMN submitter TEXT NOT NULL DEFAULT ''",
    "CREATE TABLE submitters (name TEXT PRIMARY KEY, last_served BIGINT NOT NULL)",
    "CREATE INDEX jobs_by_parent ON jobs (parent_job_id) WHERE parent_job_id IS NOT NULL",
    # A device serial names a device on one host ("local", "host-compiler" exist on
    # every host): the claiming worker's host is recorded, and the one-running-job
    # law holds per (host, serial). On one host nothing changes.
    "ALTER TABLE jobs ADD COLUMN host TEXT",
    "DROP INDEX jobs_one_running_per_device",
    """CREATE UNIQUE INDEX jobs_one_running_per_device ON jobs (coalesce(host, ''), device_serial)
        WHERE device_serial IS NOT NULL AND state NOT IN ('created', 'success', 'failed')""",
)

# v5: as SQLite's v5, regression suite runs and their entry x device results (controller/regress).
_V5 = (
    """CREATE TABLE regress_runs (
        id TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        finished_at DOUBLE PRECISION NOT NULL,
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
        candidate_median_us DOUBLE PRECISION,
        created_at DOUBLE PRECISION NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, entry, device_serial)
    )""",
    "CREATE INDEX regress_results_by_entry ON regress_results (entry, device_serial, created_at)",
)

# v6: as SQLite's v6 (devices and health keyed by (host, serial), unplaced_since),
# plus artifacts every host reaches (controller/store/_blobs.py): content-addressed,
# in 1 MiB chunks. STORAGE EXTERNAL: models and arrays barely compress, so PostgreSQL
# should not spend CPU trying (it still moves large values out of line, TOAST).
_V6 = (
    "ALTER TABLE devices ADD COLUMN host TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE devices DROP CONSTRAINT devices_pkey",
    "ALTER TABLE devices ADD PRIMARY KEY (host, serial)",
    "ALTER TABLE device_health ADD COLUMN host TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE device_health DROP CONSTRAINT device_health_pkey",
    "ALTER TABLE device_health ADD PRIMARY KEY (host, serial)",
    "ALTER TABLE device_transitions ADD COLUMN host TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jobs ADD COLUMN unplaced_since DOUBLE PRECISION",
    """CREATE TABLE artifacts (
        sha256 TEXT PRIMARY KEY,
        size_bytes BIGINT NOT NULL,
        chunks INTEGER NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE artifact_chunks (
        sha256 TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (sha256, seq)
    )""",
    "ALTER TABLE artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
SCHEMA_VERSION = len(MIGRATIONS)
# Any constant: the advisory lock every process opening the database takes to migrate.
_MIGRATION_LOCK_KEY = "devicelab schema migration"


def schema_version(conn: Connection) -> int:
    """The version the database holds (0: no devicelab tables yet)."""
    # pg_tables, not to_regclass(): the catalog cache is not refreshed after waiting on
    # the advisory lock, so a process that waited for another's migration would not
    # see its new table (tests/test_store_postgres.py creates one database from three).
    exists = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
        "AND tablename = 'devicelab_schema') AS e"
    ).fetchone()
    if not exists["e"]:
        return 0
    row = conn.execute("SELECT version FROM devicelab_schema").fetchone()
    return 0 if row is None else int(row["version"])


def migrate(conn: Connection, location: str) -> int:
    """Bring the schema to ``SCHEMA_VERSION``; call inside a write transaction.

    An advisory lock makes processes opening a new database at once take turns:
    the first creates the tables, the others then find them (DDL is
    transactional here, so a failing step leaves the previous version whole).
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (_MIGRATION_LOCK_KEY,))
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise InternalError(
            f"store {location} has schema version {current}, newer than this devicelab "
            f"understands ({SCHEMA_VERSION}); upgrade devicelab"
        )
    if current == 0:
        conn.execute("CREATE TABLE devicelab_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO devicelab_schema (version) VALUES (0)")
    for version in range(current, SCHEMA_VERSION):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("UPDATE devicelab_schema SET version = ?", (SCHEMA_VERSION,))
    return SCHEMA_VERSION
