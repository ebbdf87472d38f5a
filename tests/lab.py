"""Stand-in lab hosts for tests and scripts/bench_lab.py: each "host" is a worker process
(``devicelab worker``) with its own ``DEVICELAB_HOME``, ``DEVICELAB_HOST``, adb
server on a private port and phone stand-ins (each its own process), all sharing
one PostgreSQL store. Killing a host is ``SIGKILL`` to its worker's process group:
its phones stay up, as a phone does when the computer it hangs off dies.

Example::

    with lab_host(tmp_path, "host-a", url, phones=1) as a:
        a.start_worker(stale_s=3)
        ...
        a.kill()
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from controller.store import Store
from phone_standin.testing import (
    GALAXY_S23_PROPS,
    AdbServer,
    adb_server,
    free_port,
)

#: The repository: ``python -m phone_standin`` runs from here (test infrastructure,
#: not part of the installed distribution).
CHECKOUT = Path(__file__).resolve().parent.parent

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


def client_env(home: Path, url: str, host: str, **extra: str) -> dict[str, str]:
    """Environment of a devicelab process on the lab's store as ``host``. Its adb server
    port is a free one (no server there) unless ``extra`` sets one: never the user's."""
    return {
        **os.environ,
        "DEVICELAB_HOME": str(home),
        "DEVICELAB_STORE": url,
        "DEVICELAB_HOST": host,
        "DEVICELAB_WORKER": "none",  # no daemon of its own: the hosts' workers run jobs
        "ANDROID_ADB_SERVER_PORT": str(free_port()),
        **extra,
    }


@dataclass
class LabHost:
    """One stand-in host: its adb server, phones (adb serials), and worker process."""

    name: str
    home: Path
    url: str
    adb: AdbServer
    serials: list[str] = field(default_factory=list)
    standin_pids: list[int] = field(default_factory=list)
    worker: subprocess.Popen[bytes] | None = None

    def env(self, **extra: str) -> dict[str, str]:
        return client_env(
            self.home, self.url, self.name, ANDROID_ADB_SERVER_PORT=str(self.adb.port), **extra
        )

    def start_worker(self, stale_s: float, **extra: str) -> None:
        """Start ``devicelab worker`` for this host; return once its phones are published."""
        log = (self.home / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "worker"],
            env=self.env(DEVICELAB_WORKER_STALE_S=f"{stale_s:g}", **extra),
            start_new_session=True,  # its own process group: a kill takes its children too
            stdout=log,
            stderr=log,
        )
        log.close()
        store = Store(self.home / "observer", url=self.url, host=f"{self.name}-observer")
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not set(self.serials) <= {
            d.serial for d in store.list_devices(live_within_s=stale_s) if d.host == self.name
        }:
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no phones published; see {log.name}")
            time.sleep(0.1)
        store.close()

    def kill(self) -> None:
        """The host dies at once (kill -9 of the worker and everything it started)."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Stop the worker as a user would (SIGTERM: it hands its jobs back)."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def standin_phone(
    adb: AdbServer, sandbox: Path, props: Mapping[str, str] = GALAXY_S23_PROPS
) -> Iterator[tuple[str, int]]:
    """A phone stand-in in its own process, connected to ``adb``; yields (serial, pid)."""
    sandbox.mkdir(parents=True, exist_ok=True)
    props_file = sandbox.with_suffix(".json")
    props_file.write_text(json.dumps(dict(props)), encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "phone_standin", "--port", str(port)]
    command += ["--sandbox", str(sandbox), "--props", str(props_file)]
    process = subprocess.Popen(  # from the checkout's root: phone_standin is not installed
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=CHECKOUT
    )
    serial = f"127.0.0.1:{port}"
    try:
        assert process.stdout is not None
        if not process.stdout.readline():  # "stand-in device listening on ..."
            raise RuntimeError(f"stand-in exited with {process.wait()}")
        adb.connect(serial)
        adb.wait_for_state(serial, {"device"})
        yield serial, process.pid
    finally:
        adb.disconnect(serial)
        process.terminate()
        process.wait(STOP_TIMEOUT_S)


@contextmanager
def lab_host(base: Path, name: str, url: str, phones: int = 1) -> Iterator[LabHost]:
    """A host with ``phones`` Galaxy S23 stand-ins behind its own adb server; its worker is
    started by ``start_worker`` and stopped (or found killed) on exit."""
    home = base / name
    home.mkdir(parents=True, exist_ok=True)
    with adb_server() as adb, ExitStack() as stack:
        host = LabHost(name, home, url, adb)
        for index in range(phones):
            serial, pid = stack.enter_context(standin_phone(adb, home / f"phone{index}"))
            host.serials.append(serial)
            host.standin_pids.append(pid)
        try:
            yield host
        finally:
            host.stop()
