"""``devicelab doctor [DEVICE]``: what a device can do, what is missing, and the fix for each.

Every row is a check with a verdict: ``ok``, ``warn`` (works, with less: no NPU,
no thermal readings) or ``fail`` (jobs cannot run until fixed). The device can
run jobs when no row failed. Reaching the agent is part of the check, so a
device without Python gets the runtime deployed exactly as its first job would.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.devices import Device, DeviceEntry, DeviceRegistry
from controller.errors import Error
from controller.transports.adb import AdbTransport
from controller.transports.adb_probe import DeviceFacts, free_bytes

OK, WARN, FAIL = "ok", "warn", "fail"
_RUNTIME_DISK_BYTES = 300 * 1024 * 1024  # archive + unpacked runtime + models, with room
_FASTRPC_SCRIPT = (
    "ls /dev/fastrpc-* 2>/dev/null; for d in /vendor/lib64 /usr/lib /usr/lib/aarch64-linux-gnu;"
    " do [ -e $d/libcdsprpc.so ] && echo $d/libcdsprpc.so; done"
)


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table."""

    name: str
    status: str  # OK / WARN / FAIL
    value: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "value": self.value, "fix": self.fix}


@dataclass(frozen=True)
class Diagnosis:
    device: str
    serial: str
    checks: list[Check]

    @property
    def can_run_jobs(self) -> bool:
        return all(check.status != FAIL for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """The diagnosis as ``devicelab doctor --json`` prints it."""
        return {
            "device": self.device,
            "serial": self.serial,
            "can_run_jobs": self.can_run_jobs,
            "checks": [check.as_dict() for check in self.checks],
        }


def diagnose(wanted: str = "") -> Diagnosis:
    """Check the device named ``wanted`` (name or adb serial; "" = this host)."""
    registry = DeviceRegistry()
    try:
        entry = registry.resolve(Device(wanted) if wanted else None)
        checks = []
        if isinstance(entry.transport, AdbTransport):
            checks += adb_checks(entry.transport)
            checks.append(vendor_tools_check(entry))
        checks += agent_checks(entry)
        checks += health_checks(entry.transport.health())
        return Diagnosis(entry.name, entry.serial, checks)
    finally:
        registry.close()


def adb_checks(transport: AdbTransport) -> list[Check]:
    """What the device is, and whether the agent can live on it (shell only, no agent)."""
    facts = transport._probe()
    root = transport.config.root
    return [
        _abi(facts),
        Check("os", OK, _os_text(facts)),
        _selinux(facts),
        _root(transport.shell, root, facts),
        _free_space(transport.shell, root, facts),
        _tools(facts),
        _fastrpc(transport.shell),
    ]


def _abi(facts: DeviceFacts) -> Check:
    from controller.device_runtime.build import SUPPORTED_ARCHES

    value = f"{facts.abi} ({facts.arch})"
    if facts.arch in SUPPORTED_ARCHES or facts.usable_python:
        return Check("abi", OK, value)
    return Check(
        "abi", FAIL, value,
        f"devicelab's runtime is built for {', '.join(SUPPORTED_ARCHES)}; set "
        "DEVICELAB_DEVICE_PYTHON to a Python 3.11+ on the device with the agent's dependencies",
    )  # fmt: skip


def _os_text(facts: DeviceFacts) -> str:
    if facts.os == "android":
        return (
            f"Android {facts.os_version} (SDK {facts.sdk}) {facts.os_build}, kernel {facts.kernel}"
        )
    return f"{facts.os_version or 'Linux'}, kernel {facts.kernel}"


def _selinux(facts: DeviceFacts) -> Check:
    # The shell domain may run programs it unpacked under /data/local/tmp even when enforcing.
    return Check("selinux", OK, facts.selinux or "none")


def _root(shell: Callable[..., str], root: str, facts: DeviceFacts) -> Check:
    probe = f"{root}/.doctor-exec"
    script = f"#!{facts.shell}\necho devicelab-exec-ok\n"
    out = shell(
        f"mkdir -p {root} && printf '%s' {shlex.quote(script)} > {probe} && chmod 755 {probe}"
        f" && {probe}; rm -f {probe}"
    )
    if "devicelab-exec-ok" in out:
        return Check("device root", OK, f"{root} (writable, executable)")
    return Check(
        "device root", FAIL, f"{root}: {out.strip()[-120:] or 'cannot write or execute'}",
        "set DEVICELAB_DEVICE_ROOT to a folder the shell user can write and execute from "
        "(/data/local/tmp on Android)",
    )  # fmt: skip


def _free_space(shell: Callable[..., str], root: str, facts: DeviceFacts) -> Check:
    free = free_bytes(shell, root)
    if free is None:
        return Check("free space", WARN, "df gave no reading", "")
    value = f"{free / 1e9:.1f} GB free at {root}"
    if facts.usable_python or free >= _RUNTIME_DISK_BYTES:
        return Check("free space", OK, value)
    return Check(
        "free space", FAIL, value,
        f"the runtime needs about {_RUNTIME_DISK_BYTES // 2**20} MB: free space on the device",
    )  # fmt: skip


def _tools(facts: DeviceFacts) -> Check:
    if not facts.missing_tools or facts.usable_python:
        return Check("device tools", OK, " ".join(facts.tools))
    return Check(
        "device tools", FAIL, f"missing: {' '.join(facts.missing_tools)}",
        "the runtime is unpacked with the device's own tar, gzip and sha256sum (toybox on "
        "Android 9+): install them or set DEVICELAB_DEVICE_PYTHON",
    )  # fmt: skip


def _fastrpc(shell: Callable[..., str]) -> Check:
    found = shell(_FASTRPC_SCRIPT).split()
    nodes = [f for f in found if f.startswith("/dev/")]
    libs = [f for f in found if f.endswith(".so")]
    value = ", ".join(found) or "no fastrpc node, no libcdsprpc.so"
    if nodes and libs:
        return Check("npu (fastrpc)", OK, value)
    return Check(
        "npu (fastrpc)", WARN, value,
        "CPU jobs run. The NPU needs, on a Snapdragon Linux board, /dev/fastrpc-cdsp and "
        "libcdsprpc.so (the board's image) with the qnn runtime "
        "(DEVICELAB_DEVICE_RUNTIME_QNN=1); on an Android phone, Qualcomm's QNN SDK tools "
        "on the device (README: Preparing a device)",
    )  # fmt: skip


def vendor_tools_check(entry: DeviceEntry) -> Check:
    """The QNN SDK tools / benchmark_model that reach a phone's NPU and GPU, if present."""
    assert isinstance(entry.transport, AdbTransport)
    transport = entry.transport
    env = dict(item.split("=", 1) for item in transport.config.env if "=" in item)
    dirs = list(entry.profile.qnn_library_dirs) if entry.profile else []
    if "QNN_SDK_ROOT" in env:
        sdk = env["QNN_SDK_ROOT"]
        dirs += [f"{sdk}/bin/aarch64-android", f"{sdk}/lib/aarch64-android"]
    names = ["qnn-net-run", "qnn-profile-viewer", "libQnnHtp.so", "benchmark_model"]
    found = _present_files(transport.shell, dirs, names)
    if "DEVICELAB_BENCHMARK_MODEL" in env:
        found += _present_files(transport.shell, [], [env["DEVICELAB_BENCHMARK_MODEL"]])
    have = {name.rsplit("/", 1)[-1] for name in found}
    qnn = {"qnn-net-run", "qnn-profile-viewer", "libQnnHtp.so"} <= have
    value = ", ".join(found) or "none found"
    if qnn or "benchmark_model" in have or (transport.facts and transport.facts.os != "android"):
        return Check("npu/gpu tools", OK if (qnn or "benchmark_model" in have) else WARN, value)
    return Check(
        "npu/gpu tools", WARN, value,
        "CPU jobs run. For the phone's NPU: push the QNN SDK's bin/aarch64-android, "
        "lib/aarch64-android and lib/hexagon-v<arch>/unsigned and set "
        "DEVICELAB_DEVICE_ENV='QNN_SDK_ROOT=<that folder>' (or list the folder in the device "
        "profile's libraries.qnn); for .tflite on the NPU/GPU, a benchmark_model built for "
        "Android with DEVICELAB_DEVICE_ENV='DEVICELAB_BENCHMARK_MODEL=<its path>'",
    )  # fmt: skip


def _present_files(shell: Callable[..., str], dirs: list[str], names: list[str]) -> list[str]:
    paths = [f"{d}/{n}" for d in dirs for n in names] if dirs else names
    if not paths:
        return []
    quoted = " ".join(shlex.quote(p) for p in paths)
    return shell(f'for f in {quoted}; do [ -e "$f" ] && echo "$f"; done').split()


def agent_checks(entry: DeviceEntry) -> list[Check]:
    """Start (or attach to) the agent and list the runtimes and accelerators it loads."""
    try:
        client = entry.transport.connect()
        info = client.device_info(entry.library_dirs)
    except Error as exc:
        # A message's first line says what failed, the next ones how to fix it (e.g. the
        # managed runtime that cannot be built here: controller/transports/local_runtime.py).
        what, _, fix = str(exc).partition("\n")
        return [Check("agent", FAIL, what[-300:], fix.strip()[:600] or "see the message; "
                      "`devicelab doctor` again after fixing it")]  # fmt: skip
    described = entry.transport.describe()
    python = described.get("python", {})
    checks = [
        Check(
            "python",
            OK,
            f"{info.python_version} ({python.get('source', '?')}: {python.get('command', '?')})",
        ),  # fmt: skip
        Check("agent", OK, f"{info.agent_version} on {info.machine}"),
    ]
    if python.get("runtime_id"):
        checks.append(Check("device runtime", OK, python["runtime_id"]))
    for runtime in info.runtimes:
        checks.append(_runtime_check(runtime))
    return checks


def _runtime_check(runtime: Any) -> Check:
    name = f"runtime {runtime.name}"
    if not runtime.available:
        return Check(name, WARN, runtime.detail[:200], "its models cannot run on this device")
    value = f"{runtime.version}: {', '.join(runtime.accelerators) or 'cpu'}"
    if runtime.backends:
        value += f"; QNN backends {', '.join(runtime.backends)}"
    elif runtime.name == "onnxruntime" and runtime.detail:
        value += f"; {runtime.detail[:160]}"
    return Check(name, OK, value)


def health_checks(health: dict[str, Any]) -> list[Check]:
    """Thermal zones, battery and CPU governors from the health snapshot."""
    zones = health.get("thermal_zones_c") or health.get("thermal_zones") or {}
    checks = []
    if zones:
        hottest = max(zones.values())
        checks.append(Check("thermal zones", OK, f"{len(zones)} zones, hottest {hottest:.1f} °C"))
    else:
        checks.append(Check("thermal zones", WARN, "none readable",
                            "temperatures will be missing from results"))  # fmt: skip
    if "battery_level" in health:
        checks.append(Check("battery", OK, f"{health['battery_level']} %"))
    governors = sorted(set((health.get("cpu_governors") or {}).values()))
    if governors:
        checks.append(Check("cpu governors", OK, ", ".join(governors)))
    return checks


def format_table(diagnosis: Diagnosis) -> str:
    """The doctor's table as text."""
    width = max(len(c.name) for c in diagnosis.checks)
    lines = [f"{diagnosis.device}  [{diagnosis.serial}]"]
    for check in diagnosis.checks:
        lines.append(f"  {check.status:<4}  {check.name:<{width}}  {check.value}")
        if check.fix and check.status != OK:
            lines.append(f"        {'':<{width}}  fix: {check.fix}")
    verdict = "can run jobs" if diagnosis.can_run_jobs else "cannot run jobs until fixed"
    lines.append(f"=> {verdict}")
    return "\n".join(lines)
