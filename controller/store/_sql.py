"""What the store's SQL needs from an engine: a connection shape and a few dialect words.

The row functions (``_jobs``, ``_catalog``, ``_runs``, ``_scheduling``) are
written once, in SQL both engines read the same way: ``?`` parameters (the
PostgreSQL connection rewrites them to ``%s``), ``ON CONFLICT``, ``RETURNING``,
and a ``rowid`` column (SQLite's implicit one; PostgreSQL's tables declare it).
Only row locking differs: SQLite's write transaction already holds the whole
database (``BEGIN IMMEDIATE``), PostgreSQL's runs at READ COMMITTED and locks
the rows it reads before deciding on them. Those words live in ``Dialect``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Dialect:
    """The clauses that differ between engines; empty where SQLite needs none."""

    name: str
    #: Appended to a SELECT whose rows the transaction will change.
    for_update: str
    #: Appended to a SELECT of rows that must not change until the transaction ends.
    for_share: str
    #: Appended to the claim's job SELECT: take a row no one else is taking.
    skip_locked: str
    #: A statement taking a transaction-scoped lock on one text key (``?``), or "".
    key_lock: str


SQLITE = Dialect("sqlite", for_update="", for_share="", skip_locked="", key_lock="")
POSTGRESQL = Dialect(
    "postgresql",
    for_update=" FOR UPDATE",
    for_share=" FOR SHARE",
    skip_locked=" FOR UPDATE OF j SKIP LOCKED",
    # hashtextextended: PostgreSQL's own 64-bit hash of a text, as advisory locks take.
    key_lock="SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
)


class Row(Protocol):
    """A result row read by column name (``sqlite3.Row``, or a dict on PostgreSQL)."""

    def __getitem__(self, key: str) -> Any: ...


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """One engine's connection, inside a transaction the ``Database`` opened."""

    dialect: Dialect

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


class Engine(Protocol):
    """A database the ``Store`` runs its transactions on (``_db.Database``,
    ``_postgres.PostgresDatabase``)."""

    #: Where the records live, fit for messages (no password).
    location: str

    def read(self) -> AbstractContextManager[Connection]: ...

    def write(self) -> AbstractContextManager[Connection]: ...

    def check_integrity(self) -> None: ...

    def schema_version(self) -> int: ...

    def migrate(self) -> int: ...

    def diagnostics(self) -> dict[str, Any]: ...

    def notify_work(self, conn: Connection) -> None: ...

    def listen(self, on_work: Callable[[], None], stop: threading.Event) -> bool: ...

    def close(self) -> None: ...


URL_PREFIXES = ("postgresql://", "postgres://")


def is_postgresql_url(location: str) -> bool:
    """Does ``location`` name a PostgreSQL database (``postgresql://...``)?"""
    return location.startswith(URL_PREFIXES)


def without_password(url: str) -> str:
    """``url`` fit for messages and logs: any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def lock_key(conn: Connection, key: str) -> None:
    """Hold a lock on ``key`` until the transaction ends (no-op where the engine
    already serialises every writer)."""
    if conn.dialect.key_lock:
        conn.execute(conn.dialect.key_lock, (key,))


def placeholders(count: int) -> str:
    """``?, ?, ?`` for an ``IN (...)`` of ``count`` values (``count`` > 0)."""
    return ", ".join("?" * count)
