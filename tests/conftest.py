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
    from controller.phone_standin import aarch64_unavailable_reason
    from controller.phone_standin.testing import find_adb

    if find_adb() is None:
        pytest.skip("no `adb` on PATH (apt-get install adb, or set DEVICELAB_ADB)")
    cache = Path(request.config.cache.mkdir("phone-standin-aarch64"))
    reason = aarch64_unavailable_reason(cache)
    if reason is not None:
        pytest.skip(reason)
    return cache


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from controller.samples import write_samples

    directory = tmp_path_factory.mktemp("models")
    write_samples(directory)
    return directory
