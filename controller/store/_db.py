"""The SQLite engine: one file, one connection per thread and process, short transactions.

SQLite connections must not cross threads, and SQLite forbids using one a
child inherited through ``fork`` (its lock state belongs to the parent), so
connections are cached per thread and opened again when the process id changes.
WAL mode lets readers proceed while one writer commits; every write takes the
lock up front (``BEGIN IMMEDIATE``) so two writers queue on ``busy_timeout``
instead of failing half-way with SQLITE_BUSY.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any

from controller.errors import InternalError
from controller.store import _schema
from controller.store._sql import SQLITE, Connection, Dialect

# Connections inherited through fork: kept referenced so the garbage collector
# never closes them in the child (closing one is as unsafe as using it).
_INHERITED: list[sqlite3.Connection] = []
_WAL_RETRY_S = 0.01
#: The open-time integrity check reads every page: ~0.1 s for 200 MB (warm cache) here.
#: A bigger store skips it and is caught by the errors SQLite raises on the pages it reads.
QUICK_CHECK_MAX_BYTES = 256 * 2**20
# What SQLite says of a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB).
_CORRUPT_MARKERS = ("malformed", "not a database", "corrupt")


class SqliteConnection(sqlite3.Connection):
    """A ``sqlite3`` connection that names its dialect (see ``_sql``)."""

    dialect: Dialect = SQLITE


class StoreCorruptError(InternalError):
    """The store's SQLite file is damaged or is not a database: nothing can use it
    until it is recovered (the message says how)."""


def corrupt_store_error(path: Path, detail: str) -> StoreCorruptError:
    """The one error a damaged store gives, naming the file and how to recover it."""
    return StoreCorruptError(
        f"store {path} is damaged ({detail}); devicelab will not use it. Stop its worker, "
        "keep the file, and recover what it holds into a new one with SQLite's .recover "
        "(or .dump), or restore a backup: README, 'A damaged store', says how"
    )


def _is_corruption(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and any(
        marker in str(exc) for marker in _CORRUPT_MARKERS
    )


class Database:
    """A SQLite database file shared by threads and processes.

    Example:
        db = Database(Path("/tmp/lab/store.db"))
        with db.write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        with db.read() as conn:
            conn.execute("SELECT count(*) FROM t").fetchone()
    """

    def __init__(self, path: Path, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        self.location = str(path)
        self.busy_timeout_ms = int(busy_timeout_s * 1000)
        self._local = threading.local()

    def connection(self) -> SqliteConnection:
        """This thread's connection, opened on first use in each thread and process."""
        cached: SqliteConnection | None = getattr(self._local, "conn", None)
        if cached is not None and self._local.pid == os.getpid():
            return cached
        if cached is not None:
            _INHERITED.append(cached)
        conn = _open(self.path, self.busy_timeout_ms)
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def read(self) -> AbstractContextManager[SqliteConnection]:
        """A read transaction: every statement in it sees the same snapshot."""
        # In WAL mode a reader never waits for, nor blocks, the writer.
        return self._transaction("BEGIN DEFERRED")

    def write(self) -> AbstractContextManager[SqliteConnection]:
        """A write transaction holding the database's write lock until it ends."""
        return self._transaction("BEGIN IMMEDIATE")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[SqliteConnection]:
        conn = self.connection()
        with self._mapped_errors():
            conn.execute(begin)
        try:
            with self._mapped_errors():
                yield conn
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                # A failing rollback must not hide the error that caused it.
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    def check_integrity(self) -> None:
        """Refuse a damaged file once, at open (``PRAGMA quick_check``).

        Damaged middle pages are otherwise met query by query: a listing that reads
        none of them shows fewer rows and says nothing, and a worker retries forever.

        Raises:
            StoreCorruptError: the file is damaged or not a database.
        """
        if self.path.is_file() and self.path.stat().st_size > QUICK_CHECK_MAX_BYTES:
            return
        with self.read() as conn:
            rows = conn.execute("PRAGMA quick_check(5)").fetchall()
        # Each row may hold several lines ("*** in database main ***\nPage 12: ..."):
        # the first two problems name the damage well enough for one line.
        lines = [line for row in rows for line in str(row[0]).splitlines()]
        problems = [line for line in lines if line != "ok" and not line.startswith("***")]
        if problems:
            raise corrupt_store_error(self.path, "; ".join(problems[:2]))

    def schema_version(self) -> int:
        """The schema version the file holds (0: a new file)."""
        with self.read() as conn:
            return _schema.schema_version(conn)

    def migrate(self) -> int:
        """Bring the schema up to date under the write lock (see ``_schema.migrate``)."""
        with self.write() as conn:
            return _schema.migrate(conn, self.path)

    def diagnostics(self) -> dict[str, Any]:
        """The SQLite settings in force on this thread's connection (for ``doctor`` output)."""
        with self.read() as conn:
            pragmas = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            found = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in pragmas}
            found["schema_version"] = _schema.schema_version(conn)
        return {"path": str(self.path), **found}

    def notify_work(self, conn: Connection) -> None:
        """No-op: SQLite has no notifications; a worker in this process is woken
        directly on submit and others poll (``controller.worker``)."""

    def listen(self, on_work: Callable[[], None], stop: threading.Event) -> bool:
        """False: SQLite cannot tell other processes about new work (they poll)."""
        return False

    def close(self) -> None:
        """Close this thread's connection (other threads close theirs on exit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise InternalError(
                    f"store {self.path} stayed locked by another process for "
                    f"{self.busy_timeout_ms} ms: {exc}"
                ) from exc
            if "disk is full" in str(exc):  # SQLITE_FULL says "database or disk is full"
                raise InternalError(f"store {self.path}: disk full, nothing written") from exc
            raise InternalError(f"store {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            if _is_corruption(exc):
                raise corrupt_store_error(self.path, str(exc)) from exc
            raise InternalError(f"store {self.path}: {exc}") from exc


def _open(path: Path, busy_timeout_ms: int) -> SqliteConnection:
    if path.is_dir():  # SQLite says only "unable to open database file"
        raise InternalError(f"store {path} is a directory, not the store's SQLite file")
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so the sqlite3
    # module never opens a transaction behind our back.
    try:
        conn = sqlite3.connect(
            path,
            isolation_level=None,
            timeout=busy_timeout_ms / 1000,
            factory=SqliteConnection,
        )
    except sqlite3.Error as exc:
        raise InternalError(f"store {path}: cannot open database: {exc}") from exc
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        _enable_wal(conn, path, busy_timeout_ms)
        # NORMAL in WAL mode: a power cut may lose the last commits, never corrupt.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        conn.close()
        if _is_corruption(exc):  # "file is not a database": the header page is damaged
            raise corrupt_store_error(path, str(exc)) from exc
        raise InternalError(f"store {path}: cannot open database: {exc}") from exc
    except InternalError:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection, path: Path, busy_timeout_ms: int) -> None:
    """Switch the file to WAL, retrying while another process is switching it too.

    Changing the journal mode needs an exclusive lock and SQLite does not always
    wait on ``busy_timeout`` for it: processes opening a new store at the same
    moment otherwise see "database is locked" (a stress test showed ~1 in 20).
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(_WAL_RETRY_S)
    if str(mode).lower() != "wal":
        # e.g. a network file system: WAL needs shared memory on one host.
        raise InternalError(f"store {path}: SQLite refused WAL mode (got {mode!r})")
