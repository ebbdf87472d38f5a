"""What a device is, read in one adb shell round trip: ABI, OS, kernel, shell, tools, Python.

The deploy step decides from this whether the device needs the bundled
runtime; results record it (what ran where); ``devicelab doctor`` shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ShellRunner = Callable[[str], str]

# Tools the deploy step runs on the device (toybox on Android, coreutils or busybox elsewhere).
DEPLOY_TOOLS = ("tar", "gzip", "sha256sum", "mkdir", "mv", "rm", "chmod")
_PYTHON_CHECK = (
    "import sys, grpc, numpy, psutil, google.protobuf; assert sys.version_info >= (3, 11)"
)

_PROBE_SCRIPT = (
    'echo "@@arch $(uname -m)"; echo "@@kernel $(uname -r)";'
    ' echo "@@abi $(getprop ro.product.cpu.abi 2>/dev/null)";'
    ' echo "@@release $(getprop ro.build.version.release 2>/dev/null)";'
    ' echo "@@sdk $(getprop ro.build.version.sdk 2>/dev/null)";'
    ' echo "@@fingerprint $(getprop ro.build.fingerprint 2>/dev/null)";'
    ' echo "@@selinux $(getenforce 2>/dev/null)";'
    # A path, not `command -v sh`: busybox answers "sh" for its own applet.
    " for s in /system/bin/sh /bin/sh /usr/bin/sh; do"
    ' [ -x $s ] && echo "@@shell $s" && break; done;'
    ' echo "@@uid $(id -u 2>/dev/null)";'
    ' [ -r /etc/os-release ] && echo "@@os_release $(. /etc/os-release; echo $PRETTY_NAME)";'
    f" for t in {' '.join(DEPLOY_TOOLS)}; do"
    ' command -v $t >/dev/null 2>&1 && echo "@@tool $t"; done;'
    " for p in PYTHON_CANDIDATES; do command -v $p >/dev/null 2>&1"
    f" && $p -c '{_PYTHON_CHECK}' >/dev/null 2>&1 && echo \"@@python $p\" && break; done"
)


@dataclass(frozen=True)
class DeviceFacts:
    """The device as the deploy step and the result see it."""

    arch: str  # uname -m: aarch64, x86_64, ...
    kernel: str
    abi: str  # ro.product.cpu.abi on Android (arm64-v8a), else the arch
    os: str  # "android" or "linux"
    os_version: str  # Android release, or /etc/os-release's PRETTY_NAME
    os_build: str  # ro.build.fingerprint on Android
    sdk: str
    selinux: str  # Enforcing / Permissive / "" where there is none
    shell: str  # the device's sh (the launcher's #!)
    uid: str
    tools: tuple[str, ...] = ()
    usable_python: str = ""  # a Python that can run the agent, "" if none

    @property
    def missing_tools(self) -> tuple[str, ...]:
        """The deploy step's tools the device lacks."""
        return tuple(t for t in DEPLOY_TOOLS if t not in self.tools)

    def as_dict(self) -> dict[str, str]:
        """The fields a result records under ``devicelab.device``."""
        return {
            "arch": self.arch, "abi": self.abi, "os": self.os, "os_version": self.os_version,
            "os_build": self.os_build, "kernel": self.kernel, "sdk": self.sdk,
            "selinux": self.selinux,
        }  # fmt: skip


def probe_script(python_candidates: tuple[str, ...]) -> str:
    """The shell script whose output :func:`parse_probe` reads."""
    return _PROBE_SCRIPT.replace("PYTHON_CANDIDATES", " ".join(python_candidates) or "none")


def parse_probe(text: str) -> DeviceFacts:
    """Parse the probe script's output."""
    values: dict[str, str] = {}
    tools: list[str] = []
    for line in text.splitlines():
        if not line.startswith("@@"):
            continue
        key, _, value = line[2:].partition(" ")
        if key == "tool":
            tools.append(value.strip())
        else:
            values[key] = value.strip()
    android = bool(values.get("release") or values.get("sdk"))
    arch = values.get("arch", "")
    return DeviceFacts(
        arch=arch,
        kernel=values.get("kernel", ""),
        abi=values.get("abi") or arch,
        os="android" if android else "linux",
        os_version=values.get("release", "") if android else values.get("os_release", ""),
        os_build=values.get("fingerprint", ""),
        sdk=values.get("sdk", ""),
        selinux=values.get("selinux", ""),
        shell=values.get("shell", "") or "/system/bin/sh",
        uid=values.get("uid", ""),
        tools=tuple(tools),
        usable_python=values.get("python", ""),
    )


def probe(shell: ShellRunner, python_candidates: tuple[str, ...] = ("python3",)) -> DeviceFacts:
    """Read the device's facts (one shell command)."""
    return parse_probe(shell(probe_script(python_candidates)))


def parse_df_free_bytes(text: str) -> int | None:
    """Free bytes from ``df -k PATH`` output (toybox, busybox, coreutils); None if unreadable."""
    lines = text.strip().splitlines()
    fields = " ".join(lines[1:]).split()  # a long device name may wrap onto its own line
    numbers = [f for f in fields if f.isdigit()]
    return int(numbers[2]) * 1024 if len(numbers) >= 3 else None


def free_bytes(shell: ShellRunner, path: str) -> int | None:
    """Free bytes on the filesystem holding ``path`` (its nearest existing parent)."""
    return parse_df_free_bytes(shell(f"mkdir -p {path} 2>/dev/null; df -k {path} 2>/dev/null"))
