"""A throwaway PostgreSQL server for the tests: Debian's binaries, a cluster in a temp dir.

Started once per test session on first use (``database_url``), stopped and
deleted at exit. PostgreSQL refuses to run as root (CI runs as root), so as root
the cluster belongs to ``nobody`` and ``initdb``/``pg_ctl`` run through
``runuser``. It listens on a Unix socket in its temp dir only (no TCP port to
collide with anything), trusts local connections, and skips fsync: its data
dies with the session anyway.

Why not pytest-postgresql: it starts ``pg_ctl`` as the current user, which
fails as root, and brings a dependency for ~100 lines we keep here.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import psycopg
import pytest

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
SUPERUSER = "devicelab"
_START_TIMEOUT_S = 60


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin dir (Debian's layout), or None."""
    for directory in PG_BIN_DIRS:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


class PostgresServer:
    """One PostgreSQL cluster in ``base`` (``data/``, ``sock/``), run by ``owner``."""

    def __init__(self, bin_dir: Path, base: Path) -> None:
        self.bin_dir = bin_dir
        self.base = base
        self.data = base / "data"
        self.sock = base / "sock"
        self.owner = "nobody" if os.geteuid() == 0 else None
        self._databases: set[str] = set()
        self._lock = threading.Lock()

    def _run(self, *argv: str) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=_START_TIMEOUT_S)

    def start(self) -> None:
        self.sock.mkdir(parents=True)
        os.chmod(self.base, 0o755)
        if self.owner is not None:
            shutil.chown(self.base, self.owner)
            shutil.chown(self.sock, self.owner)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8")
        self._run("initdb", "--version")
        options = (
            f"-k {self.sock} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        log = self.base / "server.log"
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(log), "-o", options)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.sock}"

    def database_url(self, key: str) -> str:
        """A database of its own for ``key`` (created on first use)."""
        name = "t_" + hashlib.sha1(key.encode()).hexdigest()[:20]
        with self._lock:
            if name not in self._databases:
                with psycopg.connect(self.url(), autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {name}")
                self._databases.add(name)
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (immediate: nothing to keep) and delete its files."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


_server: list[PostgresServer] = []
_start_lock = threading.Lock()


def server() -> PostgresServer:
    """The session's server, started on first call (skips the test where it cannot run)."""
    with _start_lock:
        if not _server:
            bin_dir = pg_bin()
            if bin_dir is None:
                pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
            instance = PostgresServer(bin_dir, Path(tempfile.mkdtemp(prefix="devicelab-pg-")))
            try:
                instance.start()
            except (OSError, subprocess.SubprocessError) as exc:
                instance.stop()
                pytest.fail(f"could not start a throwaway PostgreSQL server: {exc}")
            atexit.register(instance.stop)
            _server.append(instance)
        return _server[0]


def database_url(key: str | Path) -> str:
    """A fresh database's URL on the session's server, one per ``key`` (e.g. a tmp dir)."""
    return server().database_url(str(key))
