"""``devicelab bundle``: build the device runtime from the package registries alone.

Layout of the runtime (the folder a device unpacks the archive into)::

    bin/python3.11                 Debian's CPython (arm64 or amd64)
    lib/ld-linux-aarch64.so.1      glibc's loader: starts everything (README: "Preparing a device");
                                   ld-linux-x86-64.so.2 in the x86_64 runtime
    lib/*.so*                      glibc and the DT_NEEDED closure of what is below, nothing else
    lib/python3.11/                the standard library, trimmed
    lib/python3/dist-packages/     the agent's wheels (Debian's site.py looks here)
    devicelab-runtime.json         the manifest: versions, and every file's size and sha256

The archive is a deterministic ``.tar.gz`` (sorted entries, fixed owner and
times; gzip because every Android has it: toybox's ``gzip``), so its sha256 is
the runtime's id, and the same inputs give the same file. It carries no
``.pyc``: they would add 7 MB compressed (``.py`` sources are 3.8 MB); the
device compiles what it imports once, into the runtime folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.device_runtime import debian, elf, pins, trim, wheels
from controller.device_runtime.arches import ARCHES, Arch
from controller.device_runtime.archive import write_archive
from controller.device_runtime.manifest import build_manifest
from controller.errors import UserError
from controller.settings import home_dir

FORMAT_VERSION = 1  # bump when the layout or the build steps change
SUPPORTED_ARCHES = {name: arch.debian for name, arch in ARCHES.items()}  # ours -> Debian's


@dataclass(frozen=True)
class RuntimeBundle:
    """A built runtime archive and what it holds."""

    path: Path  # devicelab-runtime-aarch64-<id>.tar.gz
    runtime_id: str  # first 16 hex digits of the archive's sha256
    sha256: str
    manifest: dict[str, Any]

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def build_runtime(arch: str = "aarch64", qnn: bool = False, rebuild: bool = False) -> RuntimeBundle:
    """Build (or reuse the cached) runtime for ``arch``; with ``qnn``, add onnxruntime-qnn.

    Raises:
        UserError: an architecture we cannot build for, or a host without apt.
    """
    if arch not in SUPPORTED_ARCHES:
        raise UserError(
            f"--arch {arch}: devicelab builds runtimes for {', '.join(SUPPORTED_ARCHES)}"
        )
    folder = home_dir() / "runtimes"
    folder.mkdir(parents=True, exist_ok=True)
    key = _inputs_key(arch, qnn)
    cached = _cached(folder, key)
    if cached is not None and not rebuild:
        return cached
    with tempfile.TemporaryDirectory(prefix="devicelab-runtime-", dir=folder) as scratch:
        root = Path(scratch) / "root"
        packages = _assemble(root, ARCHES[arch], qnn)
        manifest = build_manifest(root, arch, qnn, _versions(packages, qnn))
        archive = Path(scratch) / "runtime.tar.gz"
        write_archive(root, archive)
        return _store(folder, key, archive, manifest)


def _assemble(root: Path, arch: Arch, qnn: bool) -> list[debian.DebianPackage]:
    """Lay the runtime out under ``root``; return the Debian packages it was built from."""
    cache = home_dir() / "cache"
    apt = debian.PrivateApt(cache / f"apt-{arch.debian}", arch.debian)
    apt.prepare()
    packages = [p for p in apt.closure(pins.DEBIAN_PACKAGES) if p[0] not in pins.DEBIAN_EXCLUDED]
    staged = root.parent / "debs"
    downloaded = apt.download(packages)
    for package in downloaded:
        debian.extract(package, staged)
    _lay_out_python(staged, root, arch)
    site = root / "lib/python3/dist-packages"
    wheel_files = wheels.download_wheels(
        pins.wheel_pins(qnn), cache / f"wheels-{arch.name}", arch.name
    )
    wheels.install_wheels(wheel_files, site)
    shutil.rmtree(site.parent / ".wheel-extras", ignore_errors=True)
    trim.trim(root / f"lib/python{pins.PYTHON_VERSION}", site)
    _keep_needed_libraries(root, arch)
    return downloaded


def _lay_out_python(staged: Path, root: Path, arch: Arch) -> None:
    python = f"python{pins.PYTHON_VERSION}"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(staged / "usr/bin" / python, root / "bin" / python)
    shutil.copytree(staged / "usr/lib" / python, root / "lib" / python, symlinks=False)
    for lib_dir in (f"lib/{arch.triplet}", f"usr/lib/{arch.triplet}"):
        for path in sorted((staged / lib_dir).glob("*.so*")):
            if path.is_file() and elf.is_elf(path):  # follows symlinks: soname -> real file
                shutil.copy(path, root / "lib" / path.name)  # keeps the loader executable


def _keep_needed_libraries(root: Path, arch: Arch) -> None:
    """Drop every system library nothing loads; drop stdlib modules whose library is missing."""
    libs = {p.name: p for p in (root / "lib").glob("*.so*") if p.is_file()}
    modules = sorted((root / "lib").rglob("*.so")) + sorted((root / "lib").rglob("*.so.*"))
    # Hexagon DSP images (onnxruntime-qnn's *Skel.so) run on the DSP, which links them.
    modules = [
        m for m in modules if m.parent != root / "lib" and elf.machine(m) == arch.elf_machine
    ]
    vendored = {m.name for m in modules} | pins.DEVICE_PROVIDED_LIBRARIES
    for module in modules:
        _, missing = elf.closure([module], libs)
        if missing - vendored and "lib-dynload" in module.parts:
            module.unlink()  # e.g. _gdbm, _tkinter: their libraries are not in the closure
    roots = [root / "bin" / f"python{pins.PYTHON_VERSION}", *(m for m in modules if m.exists())]
    found, missing = elf.closure(roots, libs)
    if missing - vendored:
        raise UserError(f"the runtime misses libraries: {', '.join(sorted(missing - vendored))}")
    for name, path in libs.items():
        if name not in found and name != arch.loader:
            path.unlink()


def _versions(packages: list[debian.DebianPackage], qnn: bool) -> dict[str, Any]:
    debs = {package.name: package.version for package in packages}
    return {"python": debs.get(f"python{pins.PYTHON_VERSION}-minimal", ""), "debian": debs,
            "wheels": pins.wheel_pins(qnn)}  # fmt: skip


def _inputs_key(arch: str, qnn: bool) -> str:
    """What a build depends on: the arch, the variant and this package's code (pins included).

    Debian's security updates are not part of the key: ``--rebuild`` picks them up.
    """
    digest = hashlib.sha256(json.dumps([FORMAT_VERSION, arch, qnn]).encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def _cached(folder: Path, key: str) -> RuntimeBundle | None:
    index = folder / f"inputs-{key}.json"
    if not index.exists():
        return None
    entry = json.loads(index.read_text(encoding="utf-8"))
    path = folder / entry["file"]
    if not path.exists():
        return None
    return RuntimeBundle(path, entry["runtime_id"], entry["sha256"], entry["manifest"])


def _store(folder: Path, key: str, archive: Path, manifest: dict[str, Any]) -> RuntimeBundle:
    digest = _sha256(archive)
    runtime_id = digest[:16]
    suffix = "-qnn" if manifest["qnn"] else ""
    path = folder / f"devicelab-runtime-{manifest['arch']}{suffix}-{runtime_id}.tar.gz"
    archive.replace(path)
    entry = {"file": path.name, "runtime_id": runtime_id, "sha256": digest, "manifest": manifest}
    temporary = folder / f"inputs-{key}.json.tmp"
    temporary.write_text(json.dumps(entry, indent=1), encoding="utf-8")
    temporary.replace(folder / f"inputs-{key}.json")
    return RuntimeBundle(path, runtime_id, digest, manifest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
