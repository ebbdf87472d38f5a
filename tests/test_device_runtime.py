"""The device runtime's parts that run on the host: pins, archive, manifest, ELF closure,
the device probe, the choice of Python, the launcher, and the agent's Android environment."""

from __future__ import annotations

import os
import tarfile
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from packaging.requirements import Requirement

from agent.device_env import prepare_environment
from agent.errors import MissingLibraryError
from agent.runtimes import qnn_ep
from controller.device_runtime import elf, pins
from controller.device_runtime.archive import write_archive
from controller.device_runtime.build import RuntimeBundle
from controller.device_runtime.launcher import launcher_script
from controller.device_runtime.manifest import MANIFEST_NAME, build_manifest
from controller.device_runtime.wheels import platform_tags
from controller.errors import UserError
from controller.transports.adb_probe import parse_df_free_bytes, parse_probe, probe_script
from controller.transports.adb_runtime import RuntimeDeployer, choose_python

ROOT = Path(__file__).resolve().parent.parent

ANDROID_PROBE = """@@arch aarch64
@@kernel 5.15.123-android14-11
@@abi arm64-v8a
@@release 14
@@sdk 34
@@fingerprint samsung/dm1qxxx/dm1q:14/UP1A.231005.007/S911BXXS3BWK5:user/release-keys
@@selinux Enforcing
@@shell /system/bin/sh
@@uid 2000
@@tool tar
@@tool gzip
@@tool sha256sum
@@tool mkdir
@@tool mv
@@tool rm
@@tool chmod
"""


def test_the_pinned_wheels_satisfy_the_agents_declared_minimums() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # The agent's imports besides the runtimes; the rest of the base install is the controller's.
    agent_base = {"grpcio", "protobuf", "numpy", "psutil"}
    base = [Requirement(line) for line in project["dependencies"]]
    assert agent_base <= {requirement.name.lower() for requirement in base}
    declared = [r for r in base if r.name.lower() in agent_base] + [
        Requirement(line) for line in project["optional-dependencies"]["agent"]
    ]
    wheels = pins.wheel_pins(qnn=True)
    for requirement in declared:
        name = requirement.name.lower()
        assert name in wheels, f"{name} is an agent dependency but not in the runtime's pins"
        assert requirement.specifier.contains(wheels[name]), (name, wheels[name])


def test_platform_tags_reach_back_from_the_bundled_glibc_to_manylinux2014() -> None:
    tags = platform_tags("aarch64")
    assert tags[0] == "manylinux_2_36_aarch64"  # Debian 12's glibc
    assert "manylinux_2_27_aarch64" in tags  # ai-edge-litert's tag
    assert tags[-1] == "manylinux2014_aarch64"
    assert "manylinux_2_37_aarch64" not in tags


def _tree(root: Path) -> None:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_text("#!/bin/sh\necho hi\n")
    (root / "bin" / "tool").chmod(0o700)
    (root / "lib").mkdir()
    (root / "lib" / "data.txt").write_text("x" * 1000)
    (root / "lib" / "data.txt").chmod(0o600)


def test_the_archive_is_byte_identical_for_the_same_folder_and_runnable_by_anyone(
    tmp_path: Path,
) -> None:
    _tree(tmp_path / "a")
    _tree(tmp_path / "b")
    os.utime(tmp_path / "b" / "lib" / "data.txt", (1, 1))  # other times must not matter
    write_archive(tmp_path / "a", tmp_path / "a.tar.gz")
    write_archive(tmp_path / "b", tmp_path / "b.tar.gz")
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members) == sorted(members)
    assert members["bin/tool"].mode == 0o755 and members["lib/data.txt"].mode == 0o644
    assert {m.uid for m in members.values()} == {0} and {m.mtime for m in members.values()} == {0}


def test_the_manifest_lists_every_file_with_its_size(tmp_path: Path) -> None:
    _tree(tmp_path)
    summary = build_manifest(tmp_path, "aarch64", False, {"python": "3.11.2"})
    assert summary["files"] == 2 and summary["unpacked_bytes"] == 1000 + 18
    document = (tmp_path / MANIFEST_NAME).read_text()
    assert '"lib/data.txt": 1000' in document


def test_elf_needed_and_closure_read_real_binaries() -> None:
    ls = Path("/bin/ls")
    assert "libc.so.6" in elf.needed(ls)
    assert elf.needed(Path(__file__)) == []
    libc = next(Path(p) / "libc.so.6" for p in ("/lib/x86_64-linux-gnu", "/lib64", "/usr/lib")
                if (Path(p) / "libc.so.6").exists())  # fmt: skip
    found, missing = elf.closure([ls], {"libc.so.6": libc})
    assert "libc.so.6" in found
    assert "libc.so.6" not in missing


def test_the_probe_reads_an_android_phone() -> None:
    facts = parse_probe(ANDROID_PROBE)
    assert (facts.arch, facts.abi, facts.os, facts.os_version) == (
        "aarch64", "arm64-v8a", "android", "14",
    )  # fmt: skip
    assert facts.os_build.startswith("samsung/") and facts.selinux == "Enforcing"
    assert facts.usable_python == "" and facts.missing_tools == ()
    assert facts.as_dict()["kernel"] == "5.15.123-android14-11"


def test_the_probe_reads_a_linux_board_with_python() -> None:
    facts = parse_probe(
        "@@arch aarch64\n@@kernel 6.6.0-qcom\n@@abi \n@@release \n@@sdk \n"
        "@@os_release Ubuntu 22.04.4 LTS\n@@shell /bin/sh\n@@tool tar\n@@python python3\n"
    )
    assert (facts.os, facts.abi, facts.os_version) == ("linux", "aarch64", "Ubuntu 22.04.4 LTS")
    assert facts.usable_python == "python3"
    assert "gzip" in facts.missing_tools


def test_the_probe_script_tries_only_the_candidates_given() -> None:
    assert "for p in python3;" in probe_script(("python3",))
    assert "for p in none;" in probe_script(())


def test_choose_python_prefers_the_users_then_the_devices_then_the_runtime() -> None:
    phone = parse_probe(ANDROID_PROBE)
    assert choose_python(phone, "/opt/py/bin/python3", "s").source == "configured"  # type: ignore[union-attr]
    board = parse_probe(ANDROID_PROBE + "@@python python3\n")
    assert choose_python(board, None, "s").command == "python3"  # type: ignore[union-attr]
    assert choose_python(phone, None, "s") is None  # the runtime is deployed


def test_choose_python_names_what_a_device_lacks() -> None:
    armv7_phone = parse_probe(ANDROID_PROBE.replace("@@arch aarch64", "@@arch armv7l").replace(
        "arm64-v8a", "armeabi-v7a"))  # fmt: skip
    with pytest.raises(UserError, match="armeabi-v7a.*DEVICELAB_DEVICE_PYTHON"):
        choose_python(armv7_phone, None, "R58M")
    x86_emulator = parse_probe(ANDROID_PROBE.replace("@@arch aarch64", "@@arch x86_64"))
    assert choose_python(x86_emulator, None, "emulator-5554") is None  # the x86_64 runtime
    old_phone = parse_probe(ANDROID_PROBE.replace("@@tool sha256sum\n", ""))
    with pytest.raises(UserError, match="missing: sha256sum"):
        choose_python(old_phone, None, "R58M")


def test_the_launcher_starts_python_through_the_bundled_loader() -> None:
    text = launcher_script("/system/bin/sh")
    lines = text.splitlines()
    assert lines[0] == "#!/system/bin/sh"
    assert 'R="${0%/bin/*}"' in lines
    assert lines[-1].startswith('exec "$R/lib/ld-linux-aarch64.so.1" --library-path "$R/lib"')
    assert '--argv0 "$0" "$R/bin/python3.11" "$@"' in lines[-1]
    host = launcher_script("/bin/sh", "x86_64").splitlines()
    assert host[0] == "#!/bin/sh"
    assert host[-1].startswith('exec "$R/lib/ld-linux-x86-64.so.2" --library-path "$R/lib"')


def test_the_agent_gets_tmpdir_and_home_in_its_workdir_where_the_device_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    # Before the call: monkeypatch restores the value it saw here, so the process's cached
    # temp dir is not left inside this test's (0700) folder for later tests to inherit.
    monkeypatch.setattr(tempfile, "tempdir", None)
    changed = prepare_environment(tmp_path, system_tmp=str(tmp_path / "no-tmp"))
    assert changed == {"TMPDIR": str(tmp_path / "tmp"), "HOME": str(tmp_path / "home")}
    assert tempfile.gettempdir() == str(tmp_path / "tmp")


def test_the_agent_keeps_a_devices_own_tmpdir_and_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert prepare_environment(tmp_path / "work") == {}


class _PluginWithoutDevices:
    """onnxruntime as seen on an aarch64 host without fastrpc: the QNN plugin registers
    but offers no device, and a second registration raises (as ORT does)."""

    def __init__(self) -> None:
        self.registrations = 0

    def get_ep_devices(self) -> list[Any]:
        return [SimpleNamespace(ep_name="CPUExecutionProvider")]

    def register_execution_provider_library(self, name: str, path: str) -> None:
        self.registrations += 1
        if self.registrations > 1:
            raise RuntimeError(f"EP library is already registered under {name}")


def test_qnn_ep_is_registered_once_and_no_device_is_a_named_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(qnn_ep, "_registered", False)
    monkeypatch.setattr(qnn_ep, "qnn_package_dir", lambda: Path("/opt/onnxruntime_qnn"))
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    ort = _PluginWithoutDevices()
    for _ in range(3):
        with pytest.raises(MissingLibraryError, match="no /dev/fastrpc-cdsp.*libcdsprpc.so"):
            qnn_ep.register_qnn_ep(ort)  # type: ignore[arg-type]
    assert ort.registrations == 1


def test_an_archive_member_never_escapes_its_folder(tmp_path: Path) -> None:
    _tree(tmp_path / "root")
    write_archive(tmp_path / "root", tmp_path / "r.tar.gz")
    with tarfile.open(tmp_path / "r.tar.gz") as tar:
        names = tar.getnames()
    assert all(not n.startswith(("/", "..")) for n in names)


TOYBOX_DF = """Filesystem      1K-blocks     Used Available Use% Mounted on
/dev/block/dm-46 115409700 40138980  75139200  35% /data
"""
WRAPPED_DF = """Filesystem           1K-blocks      Used Available Use% Mounted on
/dev/mapper/very-long-volume-name
                      51475068  12345678  36481234  26% /
"""


def test_df_output_gives_free_bytes_even_when_the_device_name_wraps() -> None:
    assert parse_df_free_bytes(TOYBOX_DF) == 75139200 * 1024
    assert parse_df_free_bytes(WRAPPED_DF) == 36481234 * 1024
    assert parse_df_free_bytes("df: /nope: No such file or directory\n") is None


def test_a_device_too_full_for_the_runtime_is_refused_before_anything_is_pushed(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "runtime.tar.gz"
    archive.write_bytes(b"\0" * 1000)
    bundle = RuntimeBundle(archive, "0" * 16, "0" * 64, {"unpacked_bytes": 200 * 10**6})
    pushed: list[str] = []
    full = "Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/x 99 9 50000 95% /data\n"
    deployer = RuntimeDeployer("R58M", "/data/local/tmp/devicelab", lambda c, t: full,
                               lambda src, dst: pushed.append(dst))  # fmt: skip
    with pytest.raises(UserError, match=r"\[R58M\] .* 51 MB free; the device runtime needs 220 MB"):
        deployer._check_space(bundle)
    assert pushed == []


def _host_shell(command: str, timeout_s: float) -> str:
    """This host's sh standing in for a device's: the lock is plain mkdir/find/rm."""
    import subprocess

    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout_s)
    return done.stdout + done.stderr


def test_a_deploy_lock_left_by_a_killed_deploy_is_taken_over_once_stale(tmp_path: Path) -> None:
    deployer = RuntimeDeployer("R58M", str(tmp_path), _host_shell, lambda src, dst: None)
    lock = tmp_path / "runtime" / ".deploy.lock"
    lock.mkdir(parents=True)
    an_hour_ago = lock.stat().st_mtime - 3600
    os.utime(lock, (an_hour_ago, an_hour_ago))
    with deployer._deploy_lock():
        assert lock.is_dir() and lock.stat().st_mtime > an_hour_ago  # ours now
    assert not lock.exists()


def test_a_deploy_in_progress_elsewhere_is_waited_for_then_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from controller.errors import InternalError
    from controller.transports import adb_runtime

    monkeypatch.setattr(adb_runtime, "DEPLOY_LOCK_TIMEOUT_S", 1.5)
    monkeypatch.setattr(adb_runtime, "_LOCK_POLL_S", 0.2)
    deployer = RuntimeDeployer("R58M", str(tmp_path), _host_shell, lambda src, dst: None)
    (tmp_path / "runtime" / ".deploy.lock").mkdir(parents=True)  # fresh: someone is deploying
    waiting = deployer._deploy_lock()
    with pytest.raises(InternalError, match=r"\[R58M\] another controller has been deploying"):
        waiting.__enter__()
    assert (tmp_path / "runtime" / ".deploy.lock").is_dir()  # not ours to remove
