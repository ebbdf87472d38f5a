"""The phone stand-in, end to end: adbutils / adb CLI -> real adb server -> stand-in device.

The adb server runs on a private port (never the user's 5037). Tests marked
``adb`` skip when no ``adb`` binary is on PATH (Debian package ``adb``).
Pure helpers (wire format, path mapping, service parsing) are tested without adb.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from adbutils import AdbDevice

from phone_standin import StandinDevice
from phone_standin.paths import DevicePaths
from phone_standin.shell import exit_status, parse_shell_service
from phone_standin.testing import (
    AdbServer,
    adb_server,
    bundled_adb,
    connected_standin,
    find_adb,
    free_port,
    process_alive,
    shell_command_lines,
)
from phone_standin.wire import A_WRTE, Message, pack, read_message
from tests.markers import needs_adb

PROPS = {"ro.product.model": "Galaxy S24", "ro.soc.model": "SM8650", "standin.battery.level": 42}
FIVE_MB = 5 * 1024 * 1024


def adb_test(func: Callable[..., None]) -> Callable[..., None]:
    """Mark a test as going through the real adb server (and skip it without adb)."""
    return needs_adb(pytest.mark.adb(func))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server() -> Iterator[AdbServer]:
    if find_adb() is None:
        pytest.skip("no `adb` on PATH (apt-get install adb, or set DEVICELAB_ADB)")
    with adb_server() as running:
        yield running


@pytest.fixture
def phone(server: AdbServer, tmp_path: Path) -> Iterator[StandinDevice]:
    with connected_standin(server, tmp_path / "phone", props=PROPS) as device:
        yield device


@pytest.fixture
def adb_device(server: AdbServer, phone: StandinDevice) -> AdbDevice:
    return server.client().device(phone.serial)


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- pure helpers


def test_wire_message_round_trip() -> None:
    message = Message(A_WRTE, 3, 7, b"hello")
    assert read_message(io.BytesIO(pack(message))) == message
    assert read_message(io.BytesIO(b"")) is None


def test_shell_service_names_parse() -> None:
    v2 = parse_shell_service("shell,v2,TERM=xterm,raw:echo a:b")
    assert v2 is not None and v2.v2 and v2.command == "echo a:b" and v2.env == {"TERM": "xterm"}
    v1 = parse_shell_service("shell:ls")
    assert v1 is not None and not v1.v2
    assert parse_shell_service("shellfoo:ls") is None
    assert exit_status(-9) == 137 and exit_status(3) == 3


def test_device_paths_rewrite_only_device_roots(tmp_path: Path) -> None:
    (tmp_path / "sys/class/x").mkdir(parents=True)
    (tmp_path / "sys/class/x/temp").write_text("1")
    paths = DevicePaths(tmp_path)
    root = str(paths.root)
    command = "cat /data/local/tmp/a /sys/class/x/temp /sys/kernel/y > /dev/null; /bin/sh x"
    assert paths.rewrite_command(command) == (
        f"cat {root}/data/local/tmp/a {root}/sys/class/x/temp /sys/kernel/y > /dev/null; /bin/sh x"
    )
    assert paths.rewrite_command("X=/vendor/lib:/data/q $HOME/data ./data") == (
        f"X={root}/vendor/lib:{root}/data/q $HOME/data ./data"
    )
    assert paths.to_host("/../../etc/passwd") == paths.root / "etc/passwd"


# ---------------------------------------------------------------- through the real adb server


@adb_test
def test_device_is_listed_in_device_state(server: AdbServer, phone: StandinDevice) -> None:
    states = {info.serial: info.state for info in server.client().list()}
    assert states[phone.serial] == "device"
    assert phone.serial == f"127.0.0.1:{phone.port}"
    assert "model:Galaxy_S24" in server.run("devices", "-l")


@adb_test
def test_getprop_serves_props(adb_device: AdbDevice) -> None:
    assert adb_device.shell("getprop ro.product.model") == "Galaxy S24"
    assert adb_device.shell("getprop no.such.prop fallback") == "fallback"
    assert "[ro.soc.model]: [SM8650]" in adb_device.shell("getprop").splitlines()


@adb_test
def test_set_prop_is_visible_at_once(phone: StandinDevice, adb_device: AdbDevice) -> None:
    phone.set_prop("standin.battery.level", "7")
    assert "level: 7" in adb_device.shell("dumpsys battery")


@adb_test
def test_shell_v2_exit_code_and_streams(adb_device: AdbDevice) -> None:
    result = adb_device.shell2("echo out; echo err >&2; exit 3", v2=True)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


@adb_test
def test_cli_shell_returns_exit_code(server: AdbServer, phone: StandinDevice) -> None:
    command = [server.adb, "-P", str(server.port), "-s", phone.serial, "shell", "exit 7"]
    assert subprocess.run(command, env=server.env(), timeout=30, check=False).returncode == 7


@adb_test
def test_device_files_map_into_sandbox(phone: StandinDevice, adb_device: AdbDevice) -> None:
    adb_device.shell("echo hi > /sdcard/note.txt && mkdir -p /data/local/tmp/d")
    assert phone.host_path("/sdcard/note.txt").read_text() == "hi\n"
    assert phone.host_path("/data/local/tmp/d").is_dir()
    assert adb_device.shell("cat /sys/class/thermal/thermal_zone0/temp") == "35000"
    assert adb_device.shell("cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") == (
        "schedutil"
    )
    battery = adb_device.shell("dumpsys battery")
    assert "level: 42" in battery and "temperature: 290" in battery


@adb_test
def test_push_pull_5mb_with_adbutils(
    phone: StandinDevice, adb_device: AdbDevice, tmp_path: Path
) -> None:
    source = random_file(tmp_path / "blob.bin", FIVE_MB)
    adb_device.sync.push(source, "/data/local/tmp/blob.bin")
    assert sha256(phone.host_path("/data/local/tmp/blob.bin")) == sha256(source)
    back = tmp_path / "back.bin"
    adb_device.sync.pull("/data/local/tmp/blob.bin", back)
    assert back.read_bytes() == source.read_bytes()


@adb_test
def test_push_pull_5mb_with_cli(server: AdbServer, phone: StandinDevice, tmp_path: Path) -> None:
    source = random_file(tmp_path / "model.tflite", FIVE_MB)
    server.run("-s", phone.serial, "push", str(source), "/data/local/tmp/")
    back = tmp_path / "back.tflite"
    server.run("-s", phone.serial, "pull", "/data/local/tmp/model.tflite", str(back))
    assert back.read_bytes() == source.read_bytes()


@adb_test
def test_stat_and_list(phone: StandinDevice, adb_device: AdbDevice) -> None:
    adb_device.sync.push(b"x" * 1234, "/data/local/tmp/s.bin", mode=0o640)
    info = adb_device.sync.stat("/data/local/tmp/s.bin")
    assert info.size == 1234 and stat.S_ISREG(info.mode) and stat.S_IMODE(info.mode) == 0o640
    assert not adb_device.sync.exists("/data/local/tmp/missing")
    names = {entry.path for entry in adb_device.sync.list("/data/local/tmp")}
    assert {".", "..", "s.bin"} <= names


@adb_test
def test_pull_missing_file_fails(server: AdbServer, phone: StandinDevice, tmp_path: Path) -> None:
    output = server.run("-s", phone.serial, "pull", "/data/nothing", str(tmp_path), check=False)
    assert "No such file" in output


class _EchoServicer(grpc.GenericRpcHandler):
    """A gRPC server with one raw-bytes method, standing in for the agent."""

    def service(self, handler_call_details):  # type: ignore[no-untyped-def]
        if handler_call_details.method == "/standin.Echo/Echo":
            return grpc.unary_unary_rpc_method_handler(lambda request, context: b"echo:" + request)
        return None


@adb_test
def test_forward_reaches_grpc_server_on_host(server: AdbServer, phone: StandinDevice) -> None:
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    grpc_server.add_generic_rpc_handlers((_EchoServicer(),))
    device_port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    local_port = free_port()
    try:
        server.run("-s", phone.serial, "forward", f"tcp:{local_port}", f"tcp:{device_port}")
        with grpc.insecure_channel(f"127.0.0.1:{local_port}") as channel:
            echo = channel.unary_unary("/standin.Echo/Echo")
            assert echo(b"ping" * 100_000, timeout=10) == b"echo:" + b"ping" * 100_000
    finally:
        server.run("forward", "--remove", f"tcp:{local_port}", check=False)
        grpc_server.stop(None)


@adb_test
def test_server_started_from_shell_is_reachable_through_forward(
    server: AdbServer, phone: StandinDevice, adb_device: AdbDevice
) -> None:
    """The product's path: push, start a daemon with nohup, forward to it."""
    adb_device.sync.push(b"served bytes", "/data/local/tmp/page.txt")
    device_port, local_port = free_port(), free_port()
    adb_device.shell(
        f"cd /data/local/tmp && nohup python3 -m http.server {device_port} --bind 127.0.0.1"
        " > /data/local/tmp/http.log 2>&1 &"
    )
    server.run("-s", phone.serial, "forward", f"tcp:{local_port}", f"tcp:{device_port}")
    try:
        assert _http_get(local_port, "/page.txt", timeout_sec=15).endswith(b"served bytes")
    finally:
        server.run("forward", "--remove", f"tcp:{local_port}", check=False)


def _http_get(port: int, path: str, timeout_sec: float) -> bytes:
    """GET through the forward, retrying while the daemon is still starting."""
    deadline = time.monotonic() + timeout_sec
    while True:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            response = b"".join(iter(lambda: sock.recv(65536), b""))
        if response.startswith(b"HTTP/1.0 200") or time.monotonic() > deadline:
            return response
        time.sleep(0.2)  # an empty reply means the device port refused the OPEN


@adb_test
def test_forward_to_closed_port_fails(server: AdbServer, phone: StandinDevice) -> None:
    local_port, closed_port = free_port(), free_port()
    server.run("-s", phone.serial, "forward", f"tcp:{local_port}", f"tcp:{closed_port}")
    try:
        with socket.create_connection(("127.0.0.1", local_port), timeout=10) as sock:
            sock.settimeout(10)
            assert sock.recv(1) == b""  # the server closes our end when OPEN fails
    finally:
        server.run("forward", "--remove", f"tcp:{local_port}", check=False)


@adb_test
def test_two_standins_at_once(server: AdbServer, tmp_path: Path) -> None:
    with (
        connected_standin(server, tmp_path / "a", props={"ro.product.model": "A"}) as first,
        connected_standin(server, tmp_path / "b", props={"ro.product.model": "B"}) as second,
    ):
        client = server.client()
        assert client.device(first.serial).shell("getprop ro.product.model") == "A"
        assert client.device(second.serial).shell("getprop ro.product.model") == "B"
        assert server.devices()[first.serial] == server.devices()[second.serial] == "device"


@adb_test
def test_unplug_takes_device_offline_and_replug_restores(
    server: AdbServer, phone: StandinDevice
) -> None:
    phone.unplug()
    assert server.wait_for_state(phone.serial, {"offline", None}) in {"offline", None}
    phone.replug()
    server.connect(phone.serial)
    assert server.wait_for_state(phone.serial, {"device"}) == "device"


@adb_test
def test_dropped_link_is_reconnected_by_the_server(
    server: AdbServer, phone: StandinDevice, adb_device: AdbDevice
) -> None:
    assert phone.drop_connections() == 1
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the server notices, then redials the still-listening port
        try:
            if adb_device.shell("echo back", timeout=5) == "back":
                return
        except Exception:  # noqa: BLE001 - adbutils raises several types while the link is down
            time.sleep(0.2)
    pytest.fail("device did not come back after a dropped link")


@adb_test
def test_background_process_survives_shell_and_is_killed(
    phone: StandinDevice, adb_device: AdbDevice
) -> None:
    pid = int(adb_device.shell("nohup sleep 60 > /data/local/tmp/bg.log 2>&1 & echo $!"))
    time.sleep(0.3)
    os.kill(pid, 0)  # still alive after the shell stream closed
    assert phone.kill_processes() >= 1
    deadline = time.monotonic() + 5
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(pid)


@adb_test
def test_closing_the_stream_hangs_up_the_foreground_command(
    phone: StandinDevice, adb_device: AdbDevice
) -> None:
    connection = adb_device.shell("sleep 60; echo never", stream=True)
    time.sleep(0.5)
    connection.close()
    deadline = time.monotonic() + 5
    while "sleep 60" in shell_command_lines(phone) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "sleep 60" not in shell_command_lines(phone)


@adb_test
def test_bundled_adb_36_works_too(tmp_path: Path) -> None:
    """The adbutils wheel carries its own adb (36.x); the stand-in must serve it as well."""
    binary = bundled_adb()
    if binary is None:
        pytest.skip("the adbutils wheel carries no adb binary for this platform")
    with (
        adb_server(adb=binary) as bundled,
        connected_standin(bundled, tmp_path / "phone", props=PROPS) as phone,
    ):
        device = bundled.client().device(phone.serial)
        assert device.shell2("getprop ro.product.model; exit 5", v2=True).returncode == 5
        source = random_file(tmp_path / "a.bin", 1024 * 1024 + 17)
        bundled.run("-s", phone.serial, "push", str(source), "/data/local/tmp/a.bin")
        assert device.sync.read_bytes("/data/local/tmp/a.bin") == source.read_bytes()


# ---------------------------------------------------------------- throughput (slow, prints MB/s)


@adb_test
@pytest.mark.slow
def test_push_throughput_50mb(
    server: AdbServer, phone: StandinDevice, adb_device: AdbDevice, tmp_path: Path
) -> None:
    source = random_file(tmp_path / "big.bin", 50 * 1024 * 1024)
    started = time.perf_counter()
    server.run("-s", phone.serial, "push", str(source), "/data/local/tmp/cli.bin")
    cli_sec = time.perf_counter() - started
    started = time.perf_counter()
    adb_device.sync.push(source, "/data/local/tmp/lib.bin")
    lib_sec = time.perf_counter() - started
    size_mb = source.stat().st_size / 1e6
    print(
        f"\nadb push {size_mb / cli_sec:.0f} MB/s, adbutils sync.push {size_mb / lib_sec:.0f} MB/s"
    )
    for name in ("cli.bin", "lib.bin"):
        assert phone.host_path(f"/data/local/tmp/{name}").stat().st_size == source.stat().st_size


def test_public_names_are_exported_and_sorted() -> None:
    import phone_standin as package

    assert package.__all__ == sorted(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)
