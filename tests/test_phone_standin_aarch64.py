"""The aarch64 phone stand-in through the real adb server: an Android-like root under qemu-user.

Skips (with the reason) where :func:`aarch64_unavailable_reason` says it cannot
run: not root, no user namespaces, kernel < 6.7, Debian's archive unreachable.
qemu-user-static and busybox-static are cached in pytest's cache folder
(``.pytest_cache``), so only the first run downloads them.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from adbutils import AdbDevice

from phone_standin import StandinDevice
from phone_standin.testing import (
    AdbServer,
    adb_server,
    connected_standin,
    process_alive,
    shell_command_lines,
)

pytestmark = [pytest.mark.aarch64, pytest.mark.adb]
PROPS = {
    "ro.product.model": "SM-S911B",
    "ro.soc.model": "SM8550",
    "ro.product.cpu.abi": "arm64-v8a",
}
TMP = "/data/local/tmp"


@pytest.fixture(scope="module")
def server(aarch64_cache: Path) -> Iterator[AdbServer]:
    with adb_server() as running:
        yield running


@pytest.fixture(scope="module")
def phone(
    server: AdbServer, aarch64_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StandinDevice]:
    sandbox = tmp_path_factory.mktemp("arm") / "phone"
    with connected_standin(
        server, sandbox, PROPS, arch="aarch64", cache_dir=aarch64_cache
    ) as device:
        yield device


@pytest.fixture(scope="module")
def device(server: AdbServer, phone: StandinDevice) -> AdbDevice:
    return server.client().device(phone.serial)


def test_shell_runs_as_the_shell_user_on_aarch64(device: AdbDevice) -> None:
    assert device.shell("id").startswith("uid=2000 gid=2000")
    assert device.shell("uname -m") == "aarch64"
    assert "CPU implementer\t: 0x41" in device.shell("cat /proc/cpuinfo")
    assert "GenuineIntel" not in device.shell("cat /proc/cpuinfo")


def test_root_has_no_host_userland_and_no_home(device: AdbDevice) -> None:
    for path in ("/usr", "/lib", "/tmp", "/dev/shm", "/etc/passwd", "/system/bin/python3"):
        assert device.shell2(f"ls {path}", v2=True).returncode != 0, path
    assert device.shell('echo "[$HOME][$TMPDIR]"') == "[][]"
    assert device.shell("echo $PATH").split(":")[4] == "/system/bin"
    assert device.shell("ls /dev") == "null\nrandom\nurandom\nzero"


def test_getprop_dumpsys_and_exit_codes(phone: StandinDevice, device: AdbDevice) -> None:
    assert device.shell("getprop ro.product.model") == "SM-S911B"
    assert device.shell("getprop no.such.prop fallback") == "fallback"
    assert "[ro.soc.model]: [SM8550]" in device.shell("getprop").splitlines()
    phone.set_prop("standin.battery.level", "7")
    assert "level: 7" in device.shell("dumpsys battery")
    result = device.shell2("echo out; echo err >&2; exit 3", v2=True)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_cli_shell_returns_exit_code(server: AdbServer, phone: StandinDevice) -> None:
    command = [server.adb, "-P", str(server.port), "-s", phone.serial, "shell", "exit 7"]
    assert subprocess.run(command, env=server.env(), timeout=30, check=False).returncode == 7


def test_push_stat_pull_round_trip_owned_by_shell(
    phone: StandinDevice, device: AdbDevice, tmp_path: Path
) -> None:
    payload = os.urandom(300_000)
    device.sync.push(payload, f"{TMP}/new/dir/blob.bin", mode=0o640)
    assert device.sync.stat(f"{TMP}/new/dir/blob.bin").size == len(payload)
    assert device.sync.read_bytes(f"{TMP}/new/dir/blob.bin") == payload
    assert device.shell(f"stat -c '%u:%g %a' {TMP}/new/dir/blob.bin {TMP}/new") == (
        "2000:2000 640\n2000:2000 755"
    )
    assert phone.host_path(f"{TMP}/new/dir/blob.bin").stat().st_uid == 2000
    assert device.shell2(f"rm -r {TMP}/new", v2=True).returncode == 0


def test_pushed_tar_gz_unpacks_with_device_tools(device: AdbDevice) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in (("runtime/bin/hello.txt", b"hello\n"), ("runtime/VERSION", b"1\n")):
            entry = tarfile.TarInfo(name)
            entry.size, entry.mode = len(text), 0o644
            archive.addfile(entry, io.BytesIO(text))
    device.sync.push(buffer.getvalue(), f"{TMP}/rt.tar.gz")
    command = (
        f"cd {TMP} && mkdir -p rt && gzip -dc rt.tar.gz | tar -x -C rt && cat rt/runtime/bin/*"
    )
    assert device.shell(command) == "hello"
    assert device.shell(f"sha256sum {TMP}/rt/runtime/VERSION").startswith("4355a46b19d348dc")


def test_nohup_aarch64_daemon_survives_and_is_killed(
    phone: StandinDevice, device: AdbDevice
) -> None:
    # A copy of the aarch64 busybox named busybox (it picks the applet from argv[0]).
    device.shell(f"mkdir -p {TMP}/bb && cp /system/bin/busybox {TMP}/bb/busybox")
    pid = device.shell(f"nohup {TMP}/bb/busybox sleep 600 > {TMP}/bb/log 2>&1 & echo $!")
    time.sleep(0.3)
    assert device.shell(f"kill -0 {pid} && echo alive") == "alive"
    assert phone.kill_processes() >= 1
    deadline = time.monotonic() + 5
    while device.shell(f"kill -0 {pid} 2>/dev/null && echo alive") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert device.shell(f"kill -0 {pid} 2>/dev/null || echo gone") == "gone"


def test_stop_leaves_no_mounts_and_no_binfmt_entry(
    server: AdbServer, aarch64_cache: Path, tmp_path: Path
) -> None:
    before = _host_state()
    with connected_standin(
        server, tmp_path / "phone", arch="aarch64", cache_dir=aarch64_cache
    ) as phone:
        shell = server.client().device(phone.serial)
        shell.shell("nohup sleep 600 >/dev/null 2>&1 &")
        assert _host_state() == before  # nothing leaks while running either
        assert phone.namespace is not None
        host_pids = [phone.namespace.init_pid, *phone.processes.marked_pids()]
    assert _host_state() == before
    deadline = time.monotonic() + 5
    while any(process_alive(pid) for pid in host_pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process_alive(pid) for pid in host_pids)


def test_closing_the_stream_hangs_up_the_foreground_command(
    phone: StandinDevice, device: AdbDevice
) -> None:
    connection = device.shell("sleep 61; echo never", stream=True)
    time.sleep(0.5)
    assert "sleep 61" in shell_command_lines(phone)
    connection.close()
    deadline = time.monotonic() + 5
    while "sleep 61" in shell_command_lines(phone) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "sleep 61" not in shell_command_lines(phone)


def _host_state() -> tuple[list[str], list[str]]:
    """The host's mount table and, where binfmt_misc is mounted, its entries."""
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    entries = sorted(p.name for p in binfmt.iterdir()) if (binfmt / "register").exists() else []
    return mounts, entries
