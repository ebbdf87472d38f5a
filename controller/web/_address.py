"""Where the lab's web page is: what ``Job.url`` links to while ``devicelab serve`` runs.

A running server writes ``$DEVICELAB_HOME/web.json`` (its URL, pid and store) and
removes it when it stops; a job's ``url`` uses it when the pid is alive and the
store is the job's. ``DEVICELAB_WEB_URL`` names a page served elsewhere (another
host, a reverse proxy) and wins over the file: on a lab of many hosts sharing a
PostgreSQL store, each host sets it once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from controller import settings

#: Set to the lab page's base URL (``http://lab-host:8080``) where it runs elsewhere.
WEB_URL_ENV = "DEVICELAB_WEB_URL"
_FILE_NAME = "web.json"


def address_file() -> Path:
    """The file a running server announces itself in."""
    return settings.home_dir() / _FILE_NAME


def announce(url: str, store_location: str) -> Path:
    """Record this process's server at ``url`` for jobs of ``store_location``."""
    path = address_file()
    record = {"url": url.rstrip("/"), "pid": os.getpid(), "store": store_location}
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    temp.write_text(json.dumps(record), encoding="utf-8")
    temp.replace(path)  # atomic: a reader sees the old file or the new one
    return path


def withdraw() -> None:
    """Forget this process's server (another process's announcement is kept)."""
    path = address_file()
    record = _read(path)
    if record is not None and record.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def served_url(store_location: str) -> str | None:
    """The base URL of the page serving ``store_location``; None when none runs."""
    configured = settings.text(WEB_URL_ENV)
    if configured:
        return configured.rstrip("/")
    record = _read(address_file())
    if record is None or record.get("store") != store_location:
        return None
    pid = record.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        return None  # a server killed without cleaning up
    url = record.get("url")
    return url if isinstance(url, str) else None


def job_page_url(job_id: str, store_location: str) -> str | None:
    """The job's page on the lab's web page, or None when no server shows this store."""
    base = served_url(store_location)
    return None if base is None else f"{base}/jobs/{quote(job_id, safe='')}"


def _read(path: Path) -> dict[str, object] | None:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
