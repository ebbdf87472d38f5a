"""The phone stand-in device: a TCP endpoint the real adb server accepts via ``adb connect``.

Test infrastructure, also handy to try devicelab without a phone. One
:class:`StandinDevice` listens on ``HOST:PORT`` (port 0 picks a free one) and
serves every adb server connection with :class:`Connection`. Faults for tests:
:meth:`StandinDevice.drop_connections` (link glitch: the server may reconnect),
:meth:`StandinDevice.unplug` / :meth:`StandinDevice.replug` (cable pulled:
nothing listens until replugged), :meth:`StandinDevice.kill_processes`.

With ``arch="aarch64"`` the sandbox is an Android-like root
(:mod:`.android_root`) and shell commands run chrooted in it under qemu-user,
as the shell user, inside private namespaces (:mod:`.emulation`,
:mod:`.android_shell`) that :meth:`StandinDevice.start` creates and
:meth:`StandinDevice.stop` ends (with every process in them).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from phone_standin.android_root import (
    CPUINFO_RELATIVE,
    SHELL_GID,
    SHELL_UID,
    fetch_busybox,
    prepare_android_root,
)
from phone_standin.android_shell import ChrootProcessRegistry
from phone_standin.connection import Connection
from phone_standin.emulation import (
    EmulatedNamespace,
    NamespaceSpec,
    default_cache_dir,
    fetch_qemu,
)
from phone_standin.paths import DevicePaths
from phone_standin.processes import ProcessRegistry
from phone_standin.props import FEATURES, banner, build_props
from phone_standin.sandbox import prepare_sandbox, write_props, write_sys_files
from phone_standin.services import DeviceContext

log = logging.getLogger(__name__)
ACCEPT_POLL_SEC = 0.2


@dataclass(frozen=True)
class StandinConfig:
    """How to run one stand-in device.

    Attributes:
        sandbox: directory playing the device's ``/`` (created if missing).
        props: system properties over the defaults (``props.DEFAULT_PROPS``).
        serial_name: value for ``ro.serialno``; the adb serial stays ``HOST:PORT``.
        host: address to listen on; keep loopback, nothing here authenticates.
        port: TCP port; 0 picks a free one.
        extra_env: added to every shell's environment (e.g. ``PYTHONPATH``).
        arch: ``"host"`` (commands on the host's /bin/sh, device paths rewritten)
            or ``"aarch64"`` (an Android-like root under qemu-user; root only,
            see :func:`.emulation.aarch64_unavailable_reason`).
        cache_dir: where aarch64 mode caches qemu and busybox
            (default ``$DEVICELAB_HOME/cache/phone-standin``).
        features: the CNXN banner's feature list; the sync service serves the v2
            requests only when they are listed (``FEATURES_BEFORE_V2``: an older phone).
    """

    sandbox: Path
    props: Mapping[str, object] = field(default_factory=dict)
    serial_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    extra_env: Mapping[str, str] = field(default_factory=dict)
    arch: Literal["host", "aarch64"] = "host"
    cache_dir: Path | None = None
    features: tuple[str, ...] = FEATURES


class StandinDevice:
    """A device-side ADB endpoint over TCP (see the module docstring)."""

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self.props = build_props(config.props, config.serial_name)
        self.namespace: EmulatedNamespace | None = None
        if config.arch == "aarch64":
            self._prepare_aarch64()
        else:
            self.root = prepare_sandbox(config.sandbox, self.props)
            self.paths = DevicePaths(self.root)
            self.processes = ProcessRegistry(self.root, config.extra_env)
        self._context = DeviceContext(self.paths, self.processes, frozenset(config.features))
        self._port = config.port
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._stop_accepting = threading.Event()
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()

    def _prepare_aarch64(self) -> None:
        cache_dir = self.config.cache_dir or default_cache_dir()
        busybox, qemu = fetch_busybox(cache_dir), fetch_qemu(cache_dir)
        self.root = prepare_android_root(self.config.sandbox, self.props, busybox)
        self.paths = DevicePaths(self.root, False, (SHELL_UID, SHELL_GID))
        self.namespace = EmulatedNamespace(
            NamespaceSpec(self.root, qemu, self.root / CPUINFO_RELATIVE)
        )
        self.processes = ChrootProcessRegistry(self.root, self.namespace, self.config.extra_env)

    @property
    def port(self) -> int:
        """The TCP port (the real one once started with port 0)."""
        return self._port

    @property
    def serial(self) -> str:
        """The serial the adb server lists after ``adb connect``: ``HOST:PORT``."""
        return f"{self.config.host}:{self._port}"

    @property
    def label(self) -> str:
        """Log prefix naming this device."""
        return f"[Standin|{self.serial}]"

    def start(self) -> StandinDevice:
        """Start listening; returns self so ``StandinDevice(cfg).start()`` reads well.

        Raises:
            RuntimeError: the aarch64 namespace could not be set up.
        """
        if self.namespace is not None:
            self.namespace.start()
        try:
            self._listen()
        except OSError:
            if self.namespace is not None:
                self.namespace.stop()
            raise
        log.info("%s listening, sandbox %s", self.label, self.root)
        return self

    def stop(self, kill_processes: bool = True) -> None:
        """Stop listening, drop connections and (by default) kill shell processes.

        In aarch64 mode the namespace ends too, and every process in it with it.
        """
        self.unplug()
        if kill_processes:
            self.kill_processes()
        if self.namespace is not None:
            self.namespace.stop()

    def drop_connections(self) -> int:
        """Abruptly reset every adb server connection; return how many were dropped.

        The device keeps listening, so the server may reconnect on its own.
        """
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.abort()
        return len(connections)

    def unplug(self) -> None:
        """Simulate pulling the cable: stop listening, then drop every connection."""
        self._stop_accepting.set()
        if self._accept_thread is not None:
            self._accept_thread.join()
            self._accept_thread = None
        self.drop_connections()

    def replug(self) -> None:
        """Listen again on the same port after :meth:`unplug`."""
        if self._accept_thread is None:
            self._listen()

    def kill_processes(self) -> int:
        """SIGKILL every process started from this device's shells; return how many."""
        return self.processes.kill_all()

    def set_prop(self, key: str, value: str) -> None:
        """Change a prop at runtime (``getprop``/``dumpsys`` read it on every call;
        the fake sysfs files driven by ``standin.*`` props are rewritten at once).

        The CNXN banner keeps the values it was sent with until the next connection.
        """
        with self._lock:
            self.props[key] = value
            write_props(self.root, self.props)
            write_sys_files(self.root, self.props)

    @property
    def transfers(self) -> list[str]:
        """Each sync push or pull so far, as requested: ``"SND2 zstd"``, ``"SEND"``, ..."""
        return self._context.transfers

    @property
    def delayed_ack(self) -> bool:
        """Whether a current link to the adb server negotiated ``delayed_ack``."""
        with self._lock:
            return any(connection.delayed_ack for connection in self._connections)

    def host_path(self, device_path: str) -> Path:
        """Where a device path lives on the host (same mapping as push/pull)."""
        return self.paths.to_host(device_path)

    def __enter__(self) -> StandinDevice:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.config.host, self._port))
        listener.listen(8)
        listener.settimeout(ACCEPT_POLL_SEC)  # lets unplug() stop the loop promptly
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._stop_accepting.clear()
        self._accept_thread = threading.Thread(
            target=self._accept_loop,
            args=(listener,),
            name=f"standin-accept-{self._port}",
            daemon=True,
        )
        self._accept_thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        with listener:
            while not self._stop_accepting.is_set():
                try:
                    sock, peer = listener.accept()
                except TimeoutError:
                    continue
                except OSError as exc:
                    log.warning("%s accept failed: %s", self.label, exc)
                    return
                sock.settimeout(None)
                self._start_connection(sock, peer)

    def _start_connection(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        connection = Connection(
            sock, banner(self.props, self.config.features), self._context, self.label
        )
        with self._lock:
            self._connections.add(connection)
        log.info("%s accepted adb server connection from %s:%d", self.label, *peer)
        threading.Thread(
            target=self._serve, args=(connection,), name=f"standin-conn-{self._port}", daemon=True
        ).start()

    def _serve(self, connection: Connection) -> None:
        try:
            connection.serve()
        finally:
            with self._lock:
                self._connections.discard(connection)
