"""Test helpers for the phone stand-in: a private adb server and a connected stand-in device.

Test infrastructure. The adb server always runs on its own port (never the
user's default 5037): every ``adb`` call here passes ``-P PORT`` and sets
``ANDROID_ADB_SERVER_PORT``, and :meth:`AdbServer.kill` stops only that server.

Example::

    with adb_server() as server, connected_standin(server, tmp_path / "phone") as phone:
        device = server.client().device(phone.serial)
        assert device.shell("getprop ro.product.model") == "Phone Stand-in"
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from phone_standin.device import StandinConfig, StandinDevice
from phone_standin.props import FEATURES

if TYPE_CHECKING:
    import adbutils

ADB_PORT_ENV = "ANDROID_ADB_SERVER_PORT"
ADB_BINARY_ENV = "DEVICELAB_ADB"
ADB_COMMAND_TIMEOUT_SEC = 30.0
CONNECT_TIMEOUT_SEC = 15.0
#: The repository: ``python -m phone_standin`` runs from here (test infrastructure,
#: not part of the installed distribution).
CHECKOUT = Path(__file__).resolve().parent.parent
_POLL_SEC = 0.1


class AdbCommandError(RuntimeError):
    """An adb CLI call failed; carries the command, return code and output."""

    def __init__(self, command: list[str], returncode: int, output: str) -> None:
        super().__init__(f"{' '.join(command)} -> rc={returncode}: {output.strip()}")
        self.command = command
        self.returncode = returncode
        self.output = output


def find_adb() -> str | None:
    """``$DEVICELAB_ADB`` if set, else ``adb`` from PATH (Debian's package), else None."""
    return os.environ.get(ADB_BINARY_ENV) or shutil.which("adb")


def bundled_adb() -> str | None:
    """The adb inside the adbutils wheel (36.x: sync v2, compression), or None.

    Not ``adbutils.adb_path()``: that prefers an ``adb`` on PATH (Debian's 29.x, which
    knows neither).
    """
    from importlib.resources import files

    path = Path(str(files("adbutils.binaries"))) / "adb"
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    """A TCP port free right now on loopback (small race: fine for tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class AdbServer:
    """A real adb server on a private port, driven through its CLI and adbutils."""

    adb: str
    port: int

    def env(self) -> dict[str, str]:
        """Environment for subprocesses that must talk to this server."""
        return {**os.environ, ADB_PORT_ENV: str(self.port)}

    def run(
        self, *args: str, check: bool = True, timeout_sec: float = ADB_COMMAND_TIMEOUT_SEC
    ) -> str:
        """Run ``adb -P PORT ARGS``; return stdout+stderr.

        Raises:
            AdbCommandError: non-zero exit while check is set.
        """
        command = [self.adb, "-P", str(self.port), *args]
        completed = subprocess.run(
            command,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout_sec,
            check=False,
        )
        output = completed.stdout + completed.stderr
        if check and completed.returncode != 0:
            raise AdbCommandError(command, completed.returncode, output)
        return output

    def devices(self) -> dict[str, str]:
        """Serial -> state as ``adb devices`` lists them."""
        lines = self.run("devices").splitlines()
        rows = (line.split() for line in lines[1:] if line.strip() and "\t" in line)
        return {row[0]: row[1] for row in rows}

    def wait_for_state(
        self, serial: str, states: Collection[str | None], timeout_sec: float = CONNECT_TIMEOUT_SEC
    ) -> str | None:
        """Poll until the serial's state is in states (None = not listed); return it.

        Raises:
            TimeoutError: the state did not arrive in time (message has the last state).
        """
        deadline = time.monotonic() + timeout_sec
        while True:
            state = self.devices().get(serial)
            if state in states:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{serial}: state {state!r}, wanted one of {sorted(map(str, states))}"
                )
            time.sleep(_POLL_SEC)

    def connect(self, serial: str) -> None:
        """``adb connect``; older adb exits 0 even on failure, so check the text too."""
        output = self.run("connect", serial)
        if "connected to" not in output:
            raise AdbCommandError([self.adb, "connect", serial], 0, output)

    def disconnect(self, serial: str) -> None:
        """``adb disconnect`` (no error if it was not connected)."""
        self.run("disconnect", serial, check=False)

    def client(self) -> adbutils.AdbClient:
        """An adbutils client bound to this server."""
        import adbutils  # lazily: the stand-in itself needs only the standard library

        return adbutils.AdbClient(host="127.0.0.1", port=self.port)

    def kill(self) -> None:
        """Stop this server (only this one: the port is explicit)."""
        self.run("kill-server", check=False)


@contextmanager
def adb_server(adb: str | None = None, port: int | None = None) -> Iterator[AdbServer]:
    """Start a private adb server for the block and kill it afterwards.

    Raises:
        FileNotFoundError: no adb binary given and none found (see :func:`find_adb`).
    """
    binary = adb or find_adb()
    if binary is None:
        raise FileNotFoundError(f"no adb binary: install Debian's `adb` or set ${ADB_BINARY_ENV}")
    server = AdbServer(binary, port or free_port())
    server.run("start-server")
    try:
        yield server
    finally:
        server.kill()


@contextmanager
def connected_standin(
    server: AdbServer,
    sandbox: Path,
    props: Mapping[str, object] | None = None,
    serial_name: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout_sec: float = CONNECT_TIMEOUT_SEC,
    arch: Literal["host", "aarch64"] = "host",
    cache_dir: Path | None = None,
    features: tuple[str, ...] | None = None,
) -> Iterator[StandinDevice]:
    """Start a stand-in on a free port in this process, ``adb connect`` it, wait for ``device``.

    ``features``: the banner's feature list (default ``props.FEATURES``, a current
    adbd's; ``props.FEATURES_BEFORE_V2`` plays a phone before Android 11).
    ``arch="aarch64"`` runs its shell in an Android-like root under qemu-user
    (first check :func:`phone_standin.emulation.aarch64_unavailable_reason`
    with the same ``cache_dir``, and skip if it gives a reason).

    On exit: ``adb disconnect``, stop the device, kill its shells' processes.
    """
    config = StandinConfig(
        sandbox=sandbox,
        props=dict(props or {}),
        serial_name=serial_name,
        extra_env=dict(extra_env or {}),
        arch=arch,
        cache_dir=cache_dir,
        features=FEATURES if features is None else features,
    )
    device = StandinDevice(config).start()
    try:
        server.connect(device.serial)
        server.wait_for_state(device.serial, {"device"}, timeout_sec)
        yield device
    finally:
        server.disconnect(device.serial)
        device.stop()


def process_alive(pid: int) -> bool:
    """Whether a host pid is a live process (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def shell_command_lines(device: StandinDevice) -> str:
    """Host command lines of the live processes the device's shells started, one a line."""
    lines = []
    for pid in device.processes.marked_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # exited meanwhile
        if process_alive(pid):
            lines.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return "\n".join(lines)


# getprop of a Samsung Galaxy S23 (Snapdragon 8 Gen 2), as its stand-in serves them.
GALAXY_S23_PROPS: dict[str, str] = {
    "ro.product.model": "SM-S911B",
    "ro.product.manufacturer": "samsung",
    "ro.product.name": "dm1qxxx",
    "ro.soc.model": "SM8550",
    "ro.soc.manufacturer": "QTI",
    "ro.board.platform": "kalama",
    "ro.build.version.release": "14",
    "ro.product.cpu.abi": "arm64-v8a",
}


@contextmanager
def standin_subprocess(server: AdbServer, sandbox: Path, *args: str) -> Iterator[str]:
    """A stand-in in its own process, connected to ``server``; yields its serial.

    For benchmarks: in the benchmark's process it would share the GIL with the
    pushes being measured but not with ``adb push`` (a separate process).
    ``args`` are more command-line options (``--arch aarch64``, ``--props F``,
    ``--features shell_v2,cmd,stat_v2``).
    """
    port = free_port()
    command = [sys.executable, "-m", "phone_standin", "--port", str(port)]
    process = subprocess.Popen(  # from the checkout's root: phone_standin is not installed
        [*command, "--sandbox", str(sandbox), *args], stdout=subprocess.PIPE, cwd=CHECKOUT
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # "stand-in device listening on ..."
        serial = f"127.0.0.1:{port}"
        server.connect(serial)
        server.wait_for_state(serial, {"device"}, CONNECT_TIMEOUT_SEC)
        yield serial
    finally:
        process.terminate()
        process.wait(30)
