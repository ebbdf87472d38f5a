"""A phone or board reached through the adb server: deploy, start, forward, push.

What ``connect()`` does, each step only when needed:
1. read the device (ABI, OS, tools, a usable Python: ``adb_probe``) and, where it
   has no Python that can run the agent (every stock Android), deploy the
   bundled device runtime (``adb_runtime``);
2. push the agent bundle (one zip, named by its hash) unless the device has it;
3. start it with that Python under ``nohup``, with a fresh per-session
   token in its environment, and read the port it prints;
4. ``adb forward`` a host port to it, and ping it through the forward.
A later ``connect()`` pings the running agent and restarts it if it died.

Artifacts go by ``adb push`` (sync service, 64 KiB packets) into the agent's
``incoming/`` folder; the agent verifies the sha256 and adopts the file into its
content-addressed store. One already on the device is not pushed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import shlex
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from contract.handshake import parse_ready_line
from controller import settings
from controller.agent_bundle import agent_bundle
from controller.agent_client import AgentClient, Artifact, ProgressCallback
from controller.errors import DeviceError, Error, InternalError, UserError
from controller.transports.adb_host import device_serials
from controller.transports.adb_probe import DeviceFacts, probe
from controller.transports.adb_runtime import DevicePython, RuntimeDeployer, choose_python
from controller.transports.adb_sync import SyncPushError, sync_push
from controller.transports.base import FoundDevice
from controller.transports.health import shell_snapshot

log = logging.getLogger("devicelab.transport.adb")

DEFAULT_ADB_PORT = 5037
AGENT_START_TIMEOUT_SEC = 60.0
# The runtime's first start compiles the stdlib and wheels it imports into .pyc
# (none are shipped: controller/device_runtime/build.py), minutes under qemu-user.
RUNTIME_START_FACTOR = 5.0
_SESSION_FILE = "agent.session"  # bundle, pid, port, python and env of the running agent
_TOKEN_FILE = "agent.token"
_UNSAFE_ROOT = re.compile(r"[^A-Za-z0-9_./+@%,:=-]")  # mode 0600: the running agent's session token
PING_TIMEOUT_SEC = 3.0
_POLL_SEC = 0.2


def adb_server_port() -> int:
    return int(os.environ.get("ANDROID_ADB_SERVER_PORT", DEFAULT_ADB_PORT))


def adb_server_running(timeout_sec: float = 0.2) -> bool:
    """Is an adb server listening? Checked first because adbutils would otherwise
    start one (``adb start-server``) on every call to a port where none runs."""
    try:
        with socket.create_connection(("127.0.0.1", adb_server_port()), timeout_sec):
            return True
    except OSError:
        return False


def adb_reconnect(serial: str, timeout_sec: float = 10.0) -> None:
    """``adb reconnect`` of one device: a network device (``HOST:PORT``, the stand-in) is
    disconnected and connected again; a USB one has the server reopen its transport.

    Raises:
        DeviceError: the server refused, or a network device did not answer.
    """
    import adbutils

    client = adbutils.AdbClient(host="127.0.0.1", port=adb_server_port())
    with _adb_errors(serial, "adb reconnect"):
        if re.fullmatch(r"[^:\s]+:\d+", serial):
            client.disconnect(serial)
            said = client.connect(serial, timeout=timeout_sec)
            if "connected to" not in said:
                raise OSError(said.strip())
            return
        with client.make_connection(timeout=timeout_sec) as connection:
            connection.send_command(f"host-serial:{serial}:reconnect")
            connection.check_okay()


@dataclass(frozen=True)
class AdbDeviceConfig:
    """Where and how the agent lives on a device.

    ``python``: the device's interpreter with grpcio, protobuf, numpy, psutil and
    the runtimes installed; None (the default) finds one or deploys the bundled
    runtime (README: "Preparing a device"). ``root``: a folder the shell user can
    write and execute from. ``qnn``: deploy the runtime with onnxruntime-qnn (for
    Snapdragon Linux boards with fastrpc).
    """

    python: str | None = None
    root: str = "/data/local/tmp/devicelab"
    qnn: bool = False
    # ("QNN_SDK_ROOT=/data/local/tmp/qnn", ...): the agent's environment on the device,
    # e.g. where the vendor tools for a phone's NPU are (agent/runtimes/vendor).
    env: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # The root goes into many device shell commands; a space or a metacharacter there
        # would split or run them. Refuse it once, naming the setting.
        if not self.root.startswith("/") or _UNSAFE_ROOT.search(self.root):
            raise UserError(
                f"DEVICELAB_DEVICE_ROOT={self.root!r}: give an absolute device path without "
                "spaces or shell metacharacters, e.g. /data/local/tmp/devicelab"
            )

    @classmethod
    def from_settings(cls) -> AdbDeviceConfig:
        """The config ``DEVICELAB_DEVICE_PYTHON``, ``_ROOT``, ``_RUNTIME_QNN`` and ``_ENV`` say."""
        return cls(
            python=settings.text("DEVICELAB_DEVICE_PYTHON") or None,
            root=settings.text("DEVICELAB_DEVICE_ROOT"),
            qnn=settings.flag("DEVICELAB_DEVICE_RUNTIME_QNN"),
            env=settings.words("DEVICELAB_DEVICE_ENV"),
        )


@contextlib.contextmanager
def _adb_errors(serial: str, what: str) -> Iterator[None]:
    """Map adbutils failures to DeviceError naming the device (adb lost it, or a push failed)."""
    import adbutils

    try:
        yield
    except (adbutils.AdbError, adbutils.AdbTimeout, OSError, SyncPushError) as exc:
        raise DeviceError(f"[{serial}] {what} failed: {exc}") from exc


class AdbTransport:
    """The agent on one adb device (a phone, a board, or the phone stand-in)."""

    def __init__(self, device: Any, config: AdbDeviceConfig | None = None) -> None:
        self.device = device  # adbutils.AdbDevice
        self.serial: str = device.serial
        self.config = config or AdbDeviceConfig()
        self._client: AgentClient | None = None
        self._lock = threading.Lock()
        self.restarts = 0
        # Bytes of agent code and runtime pushed by this transport (not models): what a
        # deploy costs (scripts/bench_device_runtime.py).
        self.deploy_bytes = 0
        self.facts: DeviceFacts | None = None
        self.python: DevicePython | None = None

    # --- Transport ---------------------------------------------------------
    def connect(self) -> AgentClient:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.ping(timeout_sec=PING_TIMEOUT_SEC)
                    return self._client
                except Error:
                    log.warning("[%s] agent not answering; restarting it", self.serial)
                    self._drop_client()
                    self.restarts += 1
            self._client = self._start_agent()
            return self._client

    def recover_agent(self) -> None:
        """Reconnect to the agent (reattach through a new forward), restarting it if it
        does not answer; then ping it. DeviceError/UserError when it stays away."""
        with self._lock:
            client = self._client
        if client is not None:
            try:
                client.ping(timeout_sec=PING_TIMEOUT_SEC)
                return
            except Error:
                log.warning("[%s] agent not answering; reconnecting or restarting it", self.serial)
        with self._lock:
            if self._client is not None:
                self._drop_client()
                self.restarts += 1
        self.connect().ping(timeout_sec=PING_TIMEOUT_SEC)

    def reboot(self) -> None:
        """``adb reboot``; the device leaves the adb list, then comes back."""
        with self._lock:
            self._drop_client()
        with _adb_errors(self.serial, "adb reboot"):
            self.device.reboot()

    def close(self) -> None:
        """Drop our connection; the agent keeps running on the device.

        Another controller process may be attached to it mid-job, and the next
        session attaches to it instead of starting one (``_attach``).
        """
        with self._lock:
            self._drop_client()

    def push_artifact(
        self, client: AgentClient, artifact: Artifact, progress: ProgressCallback | None = None
    ) -> str:
        """Make ``artifact`` present on the device; return its sha256. Pushes 0 bytes if present."""
        if client.has_artifact(artifact.sha256):
            return artifact.sha256
        incoming_name = f"{artifact.sha256}.part"
        remote = f"{self.config.root}/work/incoming/{incoming_name}"
        try:
            with _adb_errors(self.serial, f"push of {artifact.filename}"):
                sync_push(self.device, artifact.path, remote, progress)
        except InternalError:
            self._remove_quietly(remote)  # a half file in incoming/ is never adopted
            raise
        client.adopt_artifact(incoming_name, artifact.sha256, artifact.filename)
        return artifact.sha256

    def health(self) -> dict[str, Any]:
        return shell_snapshot(self.shell)

    def describe(self) -> dict[str, Any]:
        """What runs where: the device's facts and the Python the agent runs on."""
        with self._lock:
            facts = self.facts or self._probe()
            described: dict[str, Any] = dict(facts.as_dict())
            if self.python is not None:
                described["python"] = self.python.as_dict()
            return described

    # --- device helpers ----------------------------------------------------
    def shell(self, command: str, timeout_sec: float = 30.0) -> str:
        with _adb_errors(self.serial, f"shell {command[:40]!r}"):
            return str(self.device.shell(command, timeout=timeout_sec))

    def getprop(self) -> dict[str, str]:
        """All system properties (``getprop`` output parsed)."""
        props: dict[str, str] = {}
        for line in self.shell("getprop").splitlines():
            key, sep, value = line.partition("]: [")
            if sep and key.startswith("[") and value.endswith("]"):
                props[key[1:]] = value[:-1]
        return props

    # --- agent lifecycle ---------------------------------------------------
    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _ensure_bundle(self) -> str:
        bundle = agent_bundle()
        remote = f"{self.config.root}/{bundle.name}"
        with _adb_errors(self.serial, "agent bundle push"):
            info = self.device.sync.stat(remote)
            if info.size != bundle.stat().st_size:
                self.shell(f"mkdir -p {shlex.quote(self.config.root)}")
                self.deploy_bytes += sync_push(self.device, bundle, remote)
        return remote

    def _probe(self) -> DeviceFacts:
        configured = self.config.python
        self.facts = probe(lambda cmd: self.shell(cmd, 60.0), () if configured else ("python3",))
        return self.facts

    def _device_python(self) -> DevicePython:
        facts = self._probe()
        chosen = choose_python(facts, self.config.python, self.serial, self.config.qnn)
        if chosen is not None:
            return chosen
        return self._runtime_deployer().ensure(facts, qnn=self.config.qnn)

    def _runtime_deployer(self) -> RuntimeDeployer:
        return RuntimeDeployer(self.serial, self.config.root, self.shell, self._push_file)

    def _push_file(self, src: str, dst: str) -> None:
        from tqdm import tqdm

        total = os.path.getsize(src)
        label = f"[{self.serial}] device runtime"
        # disable=None: a bar on a terminal, nothing in a worker's log file.
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=None, leave=False)
        with bar, _adb_errors(self.serial, "runtime push"):
            sent = sync_push(self.device, Path(src), dst, lambda done, _: bar.update(done - bar.n))
        self.deploy_bytes += sent

    def _start_agent(self) -> AgentClient:
        """Attach to this bundle's agent if one runs (another process may be using it,
        mid-job); otherwise stop any other agent and start ours."""
        self.python = self._device_python()
        bundle = self._ensure_bundle()
        client = self._attach(bundle)
        if client is not None:
            return client
        self._stop_agent()
        root, token = self.config.root, secrets.token_hex(16)
        self._push_token(token)
        out = f"{root}/agent.out"
        command = (
            f"mkdir -p {root}/work && rm -f {out} && cd {root} && "
            f"{self._agent_env()}nohup {shlex.quote(self.python.command)} {bundle} "
            f"serve --port 0 --workdir {root}/work --token-file {root}/{_TOKEN_FILE} "
            f"> {out} 2> {root}/agent.log < /dev/null & echo started=$!"
        )
        started = self.shell(command).partition("started=")[2].strip()
        port, pid = self._wait_ready(out, started)
        if self.python.source == "runtime":  # the agent it replaced is stopped: prune the rest
            self._runtime_deployer().prune(self.python.runtime_id)
        self.shell(
            f"echo 'bundle={PurePosixPath(bundle).name} pid={pid} port={port} "
            f"python={self.python.command} env={self._env_id()}' > {root}/{_SESSION_FILE}"
        )
        client = self._forward(port, token)
        log.info("[%s] agent pid %s on device port %s", self.serial, pid, port)
        return client

    def _push_token(self, token: str) -> None:
        """The session token as a file only the shell user can read, sent by the sync
        protocol: never on a command line, where `ps` shows it to every app."""
        import tempfile

        with tempfile.TemporaryDirectory() as folder, _adb_errors(self.serial, "token push"):
            path = Path(folder) / _TOKEN_FILE
            path.write_text(token, encoding="ascii")
            self.shell(f"mkdir -p {self.config.root}")
            sync_push(self.device, path, f"{self.config.root}/{_TOKEN_FILE}", mode=0o600)

    def _agent_env(self) -> str:
        return "".join(f"{shlex.quote(item)} " for item in self.config.env)

    def _env_id(self) -> str:
        """A short fingerprint of the agent's configured environment (no values on disk)."""
        return hashlib.sha256("\0".join(self.config.env).encode()).hexdigest()[:12]

    def _forward(self, port: int, token: str) -> AgentClient:
        with _adb_errors(self.serial, "adb forward"):
            local_port = self.device.forward_port(port)
        client = AgentClient(f"127.0.0.1:{local_port}", device=self.serial, token=token)
        client.ping(timeout_sec=10.0)
        return client

    def _session(self) -> dict[str, str]:
        text = self.shell(f"cat {self.config.root}/{_SESSION_FILE} 2>/dev/null")
        return dict(part.split("=", 1) for part in text.split() if "=" in part)

    def _attach(self, bundle: str) -> AgentClient | None:
        session = self._session()
        if session.get("bundle") != PurePosixPath(bundle).name:
            return None
        if self.python is not None and session.get("python") != self.python.command:
            return None  # started on another runtime (or Python) than the one chosen now
        if session.get("env") != self._env_id():
            return None  # started with another DEVICELAB_DEVICE_ENV than ours
        if not session.get("pid", "").isdigit():
            return None
        if "alive" not in self.shell(f"kill -0 {session['pid']} 2>/dev/null && echo alive"):
            return None
        try:
            token = self.shell(f"cat {self.config.root}/{_TOKEN_FILE} 2>/dev/null").strip()
            client = self._forward(int(session["port"]), token)
        except (Error, KeyError, ValueError):
            return None
        log.info("[%s] attached to the running agent pid %s", self.serial, session["pid"])
        return client

    def _wait_ready(self, out: str, started_pid: str = "") -> tuple[int, int]:
        """The port and pid the agent prints; fails as soon as its process is gone."""
        timeout_sec = AGENT_START_TIMEOUT_SEC
        if self.python is not None and self.python.source == "runtime":
            timeout_sec *= RUNTIME_START_FACTOR
        deadline = time.monotonic() + timeout_sec
        alive = f"kill -0 {started_pid} 2>/dev/null && echo alive" if started_pid.isdigit() else ""
        while time.monotonic() < deadline:
            text = self.shell(f"cat {out} 2>/dev/null; {alive or 'echo alive'}")
            for line in text.splitlines():
                ready = parse_ready_line(line)
                if ready is not None:
                    return ready
            if "alive" not in text:
                return self._agent_failed("exited before it was ready")
            time.sleep(_POLL_SEC)
        return self._agent_failed(f"did not start within {timeout_sec:.0f} s")

    def _agent_failed(self, what: str) -> tuple[int, int]:
        tail = self.shell(f"tail -n 20 {self.config.root}/agent.log 2>/dev/null")
        python = self.python.command if self.python else "?"
        raise UserError(
            f"[{self.serial}] the agent {what} with '{python}'; is Python with devicelab's "
            f"agent dependencies installed on the device? agent.log:\n{tail}"
        )

    def _stop_agent(self) -> None:
        pid = self._session().get("pid", "") if self._reachable() else ""
        if not pid.isdigit():
            return
        try:
            self.shell(f"kill {pid} 2>/dev/null; rm -f {self.config.root}/{_SESSION_FILE}")
        except InternalError as exc:  # the device may be gone; nothing left to stop
            log.debug("[%s] stopping the agent: %s", self.serial, exc)

    def _remove_quietly(self, remote: str) -> None:
        try:
            self.shell(f"rm -f {shlex.quote(remote)}", timeout_sec=5.0)
        except InternalError as exc:  # the device may be gone; its next push overwrites it
            log.debug("[%s] removing %s: %s", self.serial, remote, exc)

    def _reachable(self) -> bool:
        try:
            self.shell("true", timeout_sec=5.0)
        except InternalError:
            return False
        return True


class AdbDiscovery:
    """The adb server's devices in state ``device`` (phones, boards, the stand-in)."""

    kind = "adb"

    def __init__(self, config: AdbDeviceConfig | None = None) -> None:
        self.config = config or AdbDeviceConfig.from_settings()

    def list_serials(self) -> list[str] | None:
        """Serials from the adb server on ``adb_server_port()``; [] when none listens,
        None when the listing failed (the caller keeps the devices it knows)."""
        try:
            return device_serials(adb_server_port())  # never starts a server, unlike adbutils
        except ConnectionRefusedError:  # no adb server: no adb devices
            return []
        except (OSError, ValueError) as exc:
            log.warning("listing adb devices on port %s failed: %s", adb_server_port(), exc)
            return None

    def open(self, serial: str) -> FoundDevice:
        """An ``AdbTransport`` to ``serial`` (no agent started yet) and its ``getprop``.

        Raises:
            DeviceError: the device cannot be read (adb lost it).
        """
        import adbutils

        client = adbutils.AdbClient(host="127.0.0.1", port=adb_server_port())
        transport = AdbTransport(client.device(serial), self.config)
        return FoundDevice(serial, transport.getprop(), transport)
