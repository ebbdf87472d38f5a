"""Shared fixtures: a private DEVICELAB_HOME and the sample models.

The agent under test is the real one, started by the controller's local
transport as a subprocess and spoken to over real gRPC.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before anything imports the controller: never touch the user's ~/.devicelab.
os.environ.setdefault("DEVICELAB_HOME", tempfile.mkdtemp(prefix="devicelab-test-home-"))


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from controller.samples import write_samples

    directory = tmp_path_factory.mktemp("models")
    write_samples(directory)
    return directory
