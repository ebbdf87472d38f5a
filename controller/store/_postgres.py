"""The PostgreSQL engine (psycopg 3): one server, many hosts, one connection per thread.

Write transactions run at READ COMMITTED: writers on different rows never wait
for each other, and the row functions lock what they decide on (``_sql.Dialect``:
``FOR UPDATE``, ``SKIP LOCKED`` for claims, an advisory lock per device).
Read transactions are REPEATABLE READ, so a read sees one snapshot as on SQLite.
Work is announced with ``NOTIFY devicelab_work`` (delivered at commit) and a
worker waits for it with ``LISTEN`` instead of polling the queue.

psycopg connections are thread-safe but one transaction at a time, and a
connection must not be used across ``fork``: connections are cached per thread
and opened again when the process id changes, as the SQLite engine does.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

import psycopg
from psycopg.rows import dict_row

from controller.errors import InternalError
from controller.store import _postgres_schema
from controller.store._sql import POSTGRESQL, Connection, Dialect, without_password

log = logging.getLogger("devicelab.store")

CHANNEL = "devicelab_work"
# How long a LISTEN connection waits between looks at its stop flag, and after a
# lost connection before it tries again.
_LISTEN_TICK_S = 1.0
_RECONNECT_S = 1.0
# Connections inherited through fork: kept referenced so the garbage collector never
# closes them in the child (closing one would end the parent's session on the server).
_INHERITED: list[psycopg.Connection[Any]] = []


@functools.lru_cache(maxsize=512)
def _to_pyformat(sql: str) -> str:
    """The store's ``?`` placeholders in psycopg's ``%s`` style (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection(psycopg.Connection[Any]):
    """A psycopg connection that takes the store's ``?`` SQL and names its dialect."""

    dialect: Dialect = POSTGRESQL

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().execute(_to_pyformat(query), params or None, **kwargs)

    def executemany(self, query: str, params_seq: Iterable[Sequence[Any]]) -> Any:
        cursor = self.cursor()
        cursor.executemany(_to_pyformat(query), params_seq)
        return cursor


class PostgresDatabase:
    """A PostgreSQL database shared by threads, processes and hosts.

    Example:
        db = PostgresDatabase("postgresql://lab@db-host/devicelab")
        with db.write() as conn:
            conn.execute("SELECT 1")
    """

    def __init__(self, url: str, connect_timeout_s: float = 10.0) -> None:
        self.url = url
        self.location = without_password(url)
        self.connect_timeout_s = connect_timeout_s
        self._local = threading.local()

    def connection(self) -> PgConnection:
        """This thread's connection, opened on first use in each thread and process."""
        cached: PgConnection | None = getattr(self._local, "conn", None)
        if cached is not None and self._local.pid == os.getpid() and not cached.closed:
            return cached
        if cached is not None and self._local.pid != os.getpid():
            _INHERITED.append(cached)
        conn = self._connect()
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _connect(self) -> PgConnection:
        try:
            return PgConnection.connect(
                self.url,
                autocommit=True,  # we issue BEGIN/COMMIT ourselves, as on SQLite
                row_factory=dict_row,
                connect_timeout=max(1, round(self.connect_timeout_s)),
            )
        except psycopg.Error as exc:
            raise InternalError(f"store {self.location}: cannot connect: {exc}") from exc

    def read(self) -> AbstractContextManager[PgConnection]:
        """A read transaction: every statement in it sees the same snapshot."""
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def write(self) -> AbstractContextManager[PgConnection]:
        """A write transaction (READ COMMITTED; the row functions lock what they change)."""
        return self._transaction("BEGIN")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[PgConnection]:
        conn = self.connection()
        try:
            with self._mapped_errors(conn):
                conn.execute(begin)
                yield conn
                conn.execute("COMMIT")
        except BaseException:
            if not conn.closed:
                # A failing rollback must not hide the error that caused it.
                with suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _mapped_errors(self, conn: PgConnection) -> Iterator[None]:
        try:
            yield
        except psycopg.OperationalError as exc:
            conn.close()  # the next transaction connects again
            raise InternalError(f"store {self.location}: {exc}") from exc
        except psycopg.Error as exc:
            raise InternalError(f"store {self.location}: {exc}") from exc

    def check_integrity(self) -> None:
        """Nothing to do: the server keeps its own files sound."""

    def schema_version(self) -> int:
        with self.read() as conn:
            return _postgres_schema.schema_version(conn)

    def migrate(self) -> int:
        with self.write() as conn:
            return _postgres_schema.migrate(conn, self.location)

    def diagnostics(self) -> dict[str, Any]:
        """The server and the settings this store relies on (for ``doctor`` output)."""
        with self.read() as conn:
            settings = conn.execute(
                "SELECT current_setting('server_version') AS server_version, "
                "current_setting('default_transaction_isolation') AS isolation"
            ).fetchone()
            version = _postgres_schema.schema_version(conn)
        return {"url": self.location, **settings, "schema_version": version}

    def notify_work(self, conn: Connection) -> None:
        """Tell listening workers there may be work, once this transaction commits."""
        conn.execute(f"NOTIFY {CHANNEL}")

    def listen(self, on_work: Callable[[], None], stop: threading.Event) -> bool:
        """Call ``on_work`` on each ``NOTIFY`` until ``stop`` is set; True: it will.

        A thread of its own holds one connection in ``LISTEN``. After a lost
        connection it connects again and calls ``on_work`` once, for what it may
        have missed meanwhile.
        """
        thread = threading.Thread(
            target=self._listen_loop, args=(on_work, stop), name="devicelab-listen", daemon=True
        )
        thread.start()
        return True

    def _listen_loop(self, on_work: Callable[[], None], stop: threading.Event) -> None:
        failing = False  # one warning per outage, not one a second
        while not stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    failing = False
                    on_work()
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=_LISTEN_TICK_S, stop_after=1):
                            on_work()
            except (psycopg.Error, InternalError) as exc:
                level = logging.DEBUG if failing else logging.WARNING
                log.log(level, "store %s: listening for work failed: %s", self.location, exc)
                failing = True
                stop.wait(_RECONNECT_S)

    def close(self) -> None:
        """Close this thread's connection (other threads close theirs on exit)."""
        conn: PgConnection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None
