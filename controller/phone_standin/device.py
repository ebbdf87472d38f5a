"""The phone stand-in device: a TCP endpoint the real adb server accepts via ``adb connect``.

Test infrastructure, also handy to try devicelab without a phone. One
:class:`StandinDevice` listens on ``HOST:PORT`` (port 0 picks a free one) and
serves every adb server connection with :class:`Connection`. Faults for tests:
:meth:`StandinDevice.drop_connections` (link glitch: the server may reconnect),
:meth:`StandinDevice.unplug` / :meth:`StandinDevice.replug` (cable pulled:
nothing listens until replugged), :meth:`StandinDevice.kill_processes`.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from controller.phone_standin.connection import Connection
from controller.phone_standin.paths import DevicePaths
from controller.phone_standin.processes import ProcessRegistry
from controller.phone_standin.props import banner, build_props
from controller.phone_standin.sandbox import prepare_sandbox, write_props, write_sys_files
from controller.phone_standin.services import DeviceContext

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
    """

    sandbox: Path
    props: Mapping[str, object] = field(default_factory=dict)
    serial_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    extra_env: Mapping[str, str] = field(default_factory=dict)


class StandinDevice:
    """A device-side ADB endpoint over TCP (see the module docstring)."""

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self.props = build_props(config.props, config.serial_name)
        self.root = prepare_sandbox(config.sandbox, self.props)
        self.paths = DevicePaths(self.root)
        self.processes = ProcessRegistry(self.root, config.extra_env)
        self._context = DeviceContext(self.paths, self.processes)
        self._port = config.port
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._stop_accepting = threading.Event()
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()

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
        """Start listening; returns self so ``StandinDevice(cfg).start()`` reads well."""
        self._listen()
        log.info("%s listening, sandbox %s", self.label, self.root)
        return self

    def stop(self, kill_processes: bool = True) -> None:
        """Stop listening, drop connections and (by default) kill shell processes."""
        self.unplug()
        if kill_processes:
            self.kill_processes()

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
        connection = Connection(sock, banner(self.props), self._context, self.label)
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
