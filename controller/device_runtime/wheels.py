"""The agent's wheels for aarch64 Linux, downloaded with pip and unpacked with ``installer``.

``pip download --platform`` fetches wheels for another machine; ``installer``
(PyPA's reference wheel installer) lays them out as an install would, without
running anything on this host.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from controller.device_runtime import pins
from controller.errors import InternalError

_PIP_TIMEOUT_S = 900.0


def platform_tags(arch: str = "aarch64") -> list[str]:
    """Every manylinux tag a wheel may carry to run on the bundled glibc."""
    major, minor = pins.GLIBC_VERSION
    tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 16, -1)]
    return [*tags, f"manylinux2014_{arch}"]


def download_wheels(wheels: dict[str, str], dest: Path, arch: str = "aarch64") -> list[Path]:
    """Download exactly the pinned wheels (no dependency resolution) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    version = pins.PYTHON_VERSION.replace(".", "")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary=:all:", "--python-version", pins.PYTHON_VERSION,
        "--implementation", "cp", "--abi", f"cp{version}", "--abi", "abi3", "--abi", "none",
        "--dest", str(dest),
    ]  # fmt: skip
    for tag in platform_tags(arch):
        command += ["--platform", tag]
    command += [f"{name}=={ver}" for name, ver in sorted(wheels.items())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
        raise InternalError(f"pip download of the {arch} wheels failed: {' '.join(errors)}")
    return [_find_wheel(dest, name, ver) for name, ver in sorted(wheels.items())]


def _find_wheel(folder: Path, name: str, version: str) -> Path:
    stem = name.replace("-", "_").replace(".", "_").lower()
    for path in sorted(folder.glob("*.whl")):
        parts = path.name.split("-")
        if parts[0].replace(".", "_").lower() == stem and parts[1] == version:
            return path
    raise InternalError(f"pip download reported success but no wheel for {name}=={version}")


def install_wheels(wheels: list[Path], site_packages: Path) -> None:
    """Unpack wheels into ``site_packages`` (no scripts, no bytecode: the caller compiles)."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    scratch = site_packages.parent / ".wheel-extras"
    destination = SchemeDictionaryDestination(
        scheme_dict={
            "purelib": str(site_packages),
            "platlib": str(site_packages),
            "headers": str(scratch / "include"),
            "scripts": str(scratch / "bin"),
            "data": str(scratch / "data"),
        },
        interpreter="/system/bin/false",  # console scripts are dropped with the scratch folder
        script_kind="posix",
        bytecode_optimization_levels=[],
    )
    for wheel in wheels:
        with WheelFile.open(wheel) as source:
            install(source, destination, additional_metadata={"INSTALLER": b"devicelab\n"})
