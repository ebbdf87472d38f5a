"""The local host as a device: the agent runs as a subprocess, over real gRPC.

This is the embedded default device. It is the same agent that runs on a
phone, bound to loopback, protected by a per-session token passed through its
environment, and by default started as on a phone: from devicelab's managed
runtime with the agent's code as its zip bundle
(:mod:`controller.transports.local_runtime` says why, and how to use this
interpreter instead).
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from contract.handshake import TOKEN_ENV, parse_ready_line
from controller.agent_bundle import agent_bundle
from controller.agent_client import PING_TIMEOUT_SEC, AgentClient, Artifact, ProgressCallback
from controller.errors import Error, InternalError, UserError
from controller.settings import home_dir
from controller.transports.adb_runtime import DevicePython
from controller.transports.base import FoundDevice
from controller.transports.health import local_snapshot
from controller.transports.local_runtime import agent_environment, host_python
from controller.transports.props import host_props

log = logging.getLogger("devicelab.transport.local")

AGENT_START_TIMEOUT_SEC = 60.0
LOCAL_SERIAL = "local"


class LocalTransport:
    """Starts the agent on this host and connects to it.

    ``mode`` (``managed`` / ``current``) overrides ``DEVICELAB_LOCAL_RUNTIME``,
    which is read when an agent starts.
    """

    def __init__(self, workdir: Path | None = None, mode: str | None = None) -> None:
        self.serial = LOCAL_SERIAL
        self.workdir = workdir or home_dir() / "local-agent"
        self.mode = mode
        self.python: DevicePython | None = None  # known once an agent started
        self._process: subprocess.Popen[str] | None = None
        self._client: AgentClient | None = None
        self._lock = threading.Lock()
        self._stderr_tail: list[str] = []

    def connect(self) -> AgentClient:
        with self._lock:
            if self._client is not None and self._alive():
                return self._client
            self._stop_process()
            self._client = self._start()
            return self._client

    def close(self) -> None:
        with self._lock:
            self._stop_process()

    def recover_agent(self) -> None:
        """Ping the agent; one that does not answer (frozen, wedged) is replaced."""
        with self._lock:
            client = self._client if self._alive() else None
        if client is not None:
            try:
                client.ping(timeout_sec=PING_TIMEOUT_SEC)
                return
            except Error as exc:
                log.warning("[local] agent not answering (%s); restarting it", exc)
        self.close()
        self.connect().ping(timeout_sec=PING_TIMEOUT_SEC)

    def describe(self) -> dict[str, Any]:
        """This host as a device: the same fields an adb device reports."""
        import platform

        try:
            os_version = platform.freedesktop_os_release().get("PRETTY_NAME", "")
        except OSError:
            os_version = ""
        return {
            "arch": platform.machine(), "abi": platform.machine(), "os": "linux",
            "os_version": os_version, "os_build": "", "kernel": platform.release(),
            "python": (self.python or host_python(self.mode)).as_dict(),
        }  # fmt: skip

    def push_artifact(
        self, client: AgentClient, artifact: Artifact, progress: ProgressCallback | None = None
    ) -> str:
        return client.ensure_artifact(artifact, progress)

    def health(self) -> dict[str, Any]:
        return local_snapshot()

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _start(self) -> AgentClient:
        token = secrets.token_hex(16)
        self.python = host_python(self.mode)
        env = agent_environment(self.python, {**os.environ, TOKEN_ENV: token})
        cmd = [*self._agent_command(env), "serve", "--port", "0", "--workdir", str(self.workdir)]
        # stdin is a pipe we never write to: when this process dies, even by SIGKILL,
        # the agent reads end of file and exits (was: re-parented to init, ~65 MB, forever).
        self._process = subprocess.Popen(
            [*cmd, "--exit-with-stdin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        port = self._wait_ready()
        client = AgentClient(f"127.0.0.1:{port}", device=self.serial, token=token)
        client.ping()
        python = self.python.runtime_id or self.python.command
        log.info("[local] agent pid %s on the %s Python %s, port %s", self._process.pid,
                 self.python.source, python, port)  # fmt: skip
        return client

    def _agent_command(self, env: dict[str, str]) -> list[str]:
        """The managed runtime runs the agent's zip, as a phone does; ``current`` this checkout."""
        assert self.python is not None
        if self.python.source == "managed":
            return [self.python.command, str(agent_bundle())]
        repo_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo_root, env.get("PYTHONPATH")]))
        return [self.python.command, "-m", "agent"]

    def _wait_ready(self) -> int:
        """The port from the agent's ready line; InternalError if it exits or hangs."""
        process = self._process
        assert process is not None and process.stdout is not None
        stdout = process.stdout
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            for line in stdout:
                lines.put(line)

        # readline blocks: read in a thread so a hung agent cannot hang the controller.
        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + AGENT_START_TIMEOUT_SEC
        while time.monotonic() < deadline and process.poll() is None:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            ready = parse_ready_line(line)
            if ready is not None:
                return ready[0]
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)
        tail = "".join(self._stderr_tail[-20:])
        raise InternalError(
            f"[local] agent failed to start within {AGENT_START_TIMEOUT_SEC:.0f} s "
            f"(exit {process.returncode}):\n{tail}"
        )

    def _drain_stderr(self) -> None:
        process = self._process
        assert process is not None and process.stderr is not None
        for line in process.stderr:
            self._stderr_tail.append(line)
            del self._stderr_tail[:-200]
            log.debug("[local|agent] %s", line.rstrip())

    def _stop_process(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()
        self._process = None


class LocalDiscovery:
    """This host as the one device of the ``local`` kind: always there."""

    kind = "local"

    def list_serials(self) -> list[str]:
        """``["local"]``: the host is reachable while this process runs."""
        return [LOCAL_SERIAL]

    def open(self, serial: str) -> FoundDevice:
        """A ``LocalTransport`` (no agent started yet) and this host's props."""
        if serial != LOCAL_SERIAL:
            raise UserError(f"no local device {serial!r}: this host is {LOCAL_SERIAL!r}")
        return FoundDevice(LOCAL_SERIAL, host_props(), LocalTransport())
