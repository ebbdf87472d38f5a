"""Debian's arm64 packages on an amd64 host, without touching the host's dpkg.

apt runs against a private state folder (its own empty ``status`` file, lists
and archive cache) with ``APT::Architecture=arm64``: it computes the closure of
a package as if on an empty arm64 machine and downloads the ``.deb`` files,
which ``dpkg-deb -x`` unpacks into a folder. Never ``dpkg --add-architecture
arm64`` plus installing ``python3:arm64`` on a host: that removes the host's
own python3.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from controller.device_runtime import pins
from controller.errors import InternalError, UserError

_LISTS_MAX_AGE_S = 24 * 3600.0
_APT_TIMEOUT_S = 600.0
_INST_LINE = re.compile(r"^Inst (\S+) \((\S+) ")


@dataclass(frozen=True)
class DebianPackage:
    name: str
    version: str
    path: Path  # the downloaded .deb


class PrivateApt:
    """apt-get against a private state folder for one foreign architecture."""

    def __init__(self, state_dir: Path, arch: str = "arm64") -> None:
        self.state_dir = state_dir
        self.arch = arch
        self.archives = state_dir / "archives"

    def _options(self) -> list[str]:
        state = self.state_dir
        return [
            "-o", f"APT::Architecture={self.arch}",
            "-o", f"APT::Architectures::={self.arch}",
            "-o", f"Dir::State::Status={state / 'status'}",
            "-o", f"Dir::State::Lists={state / 'lists'}",
            "-o", f"Dir::Cache={state / 'cache'}",
            "-o", f"Dir::Etc::SourceList={state / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Get::AllowUnauthenticated=false",
        ]  # fmt: skip

    def _run(self, *args: str, cwd: Path | None = None) -> str:
        command = ["apt-get", *self._options(), *args]
        try:
            done = subprocess.run(
                command, cwd=cwd, capture_output=True, text=True, timeout=_APT_TIMEOUT_S
            )
        except FileNotFoundError as exc:
            raise UserError(
                "building the device runtime needs apt-get (a Debian or Ubuntu host)"
            ) from exc
        if done.returncode != 0:
            raise InternalError(
                f"apt-get {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-800:]}"
            )
        return done.stdout

    def prepare(self) -> None:
        """Create the state folder and refresh its package lists (at most daily)."""
        for folder in ("lists/partial", "cache/archives/partial", "archives"):
            (self.state_dir / folder).mkdir(parents=True, exist_ok=True)
        (self.state_dir / "status").touch()
        (self.state_dir / "sources.list").write_text(_sources_list(), encoding="utf-8")
        stamp = self.state_dir / "lists.updated"
        if stamp.exists() and time.time() - stamp.stat().st_mtime < _LISTS_MAX_AGE_S:
            return
        self._run("update")
        stamp.touch()

    def closure(self, roots: Iterable[str]) -> list[tuple[str, str]]:
        """(name, version) of every package installing ``roots`` on an empty system needs."""
        out = self._run("install", "-s", "--no-install-recommends", *roots)
        matches = [_INST_LINE.match(line) for line in out.splitlines()]
        return [(m.group(1), m.group(2)) for m in matches if m is not None]

    def download(self, packages: Iterable[tuple[str, str]]) -> list[DebianPackage]:
        """Download (name, version) pairs into the archive cache (kept between builds)."""
        result, wanted = [], []
        for name, version in packages:
            path = self.archives / _deb_name(name, version, self.arch)
            result.append(DebianPackage(name, version, path))
            if not path.exists():
                wanted.append(f"{name}:{self.arch}={version}")
        if wanted:
            self._run("download", *wanted, cwd=self.archives)
        return [_resolve_path(package, self.archives) for package in result]


def _sources_list() -> str:
    suite = pins.DEBIAN_SUITE
    return (
        f"deb {pins.DEBIAN_MIRROR} {suite} main\n"
        f"deb {pins.DEBIAN_MIRROR} {suite}-updates main\n"
        f"deb {pins.DEBIAN_SECURITY_MIRROR} {suite}-security main\n"
    )


def _deb_name(name: str, version: str, arch: str) -> str:
    # apt quotes the epoch's colon as %3a in file names.
    return f"{name}_{version.replace(':', '%3a')}_{arch}.deb"


def _resolve_path(package: DebianPackage, archives: Path) -> DebianPackage:
    """The downloaded file: architecture-independent packages end in ``_all.deb``."""
    if package.path.exists():
        return package
    candidates = sorted(archives.glob(f"{package.name}_*.deb"))
    matching = [c for c in candidates if _deb_version(c) == package.version]
    if not matching:
        raise InternalError(f"apt-get download did not produce {package.name} {package.version}")
    return DebianPackage(package.name, package.version, matching[0])


def _deb_version(path: Path) -> str:
    return path.name.split("_")[1].replace("%3a", ":")


def extract(package: DebianPackage, dest: Path) -> None:
    """Unpack a .deb's files into ``dest`` (its maintainer scripts are not run)."""
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["dpkg-deb", "-x", str(package.path), str(dest)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise InternalError(f"dpkg-deb -x {package.path.name} failed: {done.stderr.strip()}")
