"""Shared fixtures: a private DEVICELAB_HOME and the sample models.

The agent under test is the real one, started by the controller's local
transport as a subprocess and spoken to over real gRPC.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports the controller: never touch the user's ~/.devicelab.
os.environ.setdefault("DEVICELAB_HOME", tempfile.mkdtemp(prefix="devicelab-test-home-"))
# Jobs run in this process by default: tests patch the environment and the device
# registry the worker sees, and no daemon start (~1 s) is paid per session.
# DEVICELAB_WORKER=daemon runs the API tests through the worker daemon instead;
# tests/test_worker_daemon.py covers the daemon in subprocesses either way.
os.environ.setdefault("DEVICELAB_WORKER", "inprocess")
# The local agent runs on this venv's Python: the suite starts it dozens of times, and the
# managed runtime starts 0.4 s slower and is built per DEVICELAB_HOME. Tests that ask for
# `managed_host_runtime` run it from devicelab's managed runtime (tests/test_profile_local.py).
os.environ.setdefault("DEVICELAB_LOCAL_RUNTIME", "current")


@pytest.fixture(scope="session", autouse=True)
def _stop_worker_daemon() -> Iterator[None]:
    """A worker daemon started for the session's home ends with the session."""
    yield
    from controller import daemon

    daemon.stop_worker(Path(os.environ["DEVICELAB_HOME"]) / "store")


@pytest.fixture(scope="session")
def aarch64_cache(request: pytest.FixtureRequest) -> Path:
    """qemu + busybox for the aarch64 stand-in, kept between runs in pytest's cache;
    skips (with the reason) where aarch64 mode cannot run."""
    from phone_standin import aarch64_unavailable_reason
    from phone_standin.testing import find_adb

    if find_adb() is None:
        pytest.skip("no `adb` on PATH (apt-get install adb, or set DEVICELAB_ADB)")
    cache = Path(request.config.cache.mkdir("phone-standin-aarch64"))
    reason = aarch64_unavailable_reason(cache)
    if reason is not None:
        pytest.skip(reason)
    return cache


@pytest.fixture(scope="session")
def managed_host_runtime(request: pytest.FixtureRequest) -> Path:
    """devicelab's managed runtime for this host, unpacked: built once into pytest's cache
    (~70 s with warm download caches, ~350 MB of downloads cold) and linked into the
    session's DEVICELAB_HOME, so every later session reuses it until its inputs change."""
    from controller.transports.local_runtime import host_python

    cache = Path(request.config.cache.mkdir("host-runtime"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEVICELAB_HOME", str(cache))
        unpacked = Path(host_python("managed").command).parents[1]
    runtimes = unpacked.parents[1]
    archive = next(runtimes.glob(f"devicelab-runtime-*-{unpacked.name}.tar.gz"))
    for path in runtimes.glob("*.tar.gz"):  # an older build's, kept by nothing else
        if path != archive:
            path.unlink()
    indexes = []
    for index in runtimes.glob("inputs-*.json"):
        if archive.name in index.read_text():
            indexes.append(index)
        else:
            index.unlink()
    home = Path(os.environ["DEVICELAB_HOME"]) / "runtimes"
    (home / "host").mkdir(parents=True, exist_ok=True)
    for path in [archive, *indexes, unpacked]:
        link = home / path.relative_to(runtimes)
        if not link.exists():
            link.symlink_to(path)
    return home / "host" / unpacked.name


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from controller.samples import write_samples

    directory = tmp_path_factory.mktemp("models")
    write_samples(directory)
    return directory
