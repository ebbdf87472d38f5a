"""The Python interpreter that measures and compiles on this host.

The worker daemon (which runs host compile jobs) and the local agent (which runs
``local`` and the simulated Snapdragons) start under it. ``DEVICELAB_RUNTIME_PYTHON``
names it; by default it is the interpreter that imports devicelab. Naming another one
keeps what measures apart from a user's environment: qai-hub-models 0.65 pins
onnxruntime <= 1.22.1 and ai-edge-litert <= 2.1.1, while onnxruntime-qnn needs
onnxruntime >= 1.24 and litert-torch ai-edge-litert >= 2.3, so a script in that
environment submits, and devicelab's own environment compiles and runs.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys

RUNTIME_PYTHON_ENV = "DEVICELAB_RUNTIME_PYTHON"
#: How long asking the runtime interpreter which modules it has may take.
_PROBE_TIMEOUT_S = 60


def runtime_python() -> str:
    """The interpreter the worker daemon and the local agent run under."""
    return os.environ.get(RUNTIME_PYTHON_ENV, "").strip() or sys.executable


def runtime_has(module: str) -> bool:
    """Whether ``module`` is importable by the runtime interpreter (found, not imported)."""
    python = runtime_python()
    if python == sys.executable:
        import importlib.util

        return importlib.util.find_spec(module) is not None
    return _probe(python, module)


@functools.cache
def _probe(python: str, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    try:
        done = subprocess.run([python, "-c", code], timeout=_PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
