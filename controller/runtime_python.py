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
from pathlib import Path

RUNTIME_PYTHON_ENV = "DEVICELAB_RUNTIME_PYTHON"
#: How long asking the runtime interpreter which modules it has may take.
_PROBE_TIMEOUT_S = 60


def runtime_python() -> str:
    """The interpreter the worker daemon and the local agent run under."""
    return os.environ.get(RUNTIME_PYTHON_ENV, "").strip() or sys.executable


def runtime_has(module: str) -> bool:
    """Whether ``module`` is importable by the runtime interpreter (found, not imported)."""
    if runtime_python() == sys.executable:
        import importlib.util

        return importlib.util.find_spec(module) is not None
    code = f"import importlib.util; print(importlib.util.find_spec({module!r}) is not None)"
    return _answer(code) == "True"


def runtime_qnn_sdk() -> str:
    """The QNN SDK version the runtime interpreter's onnxruntime-qnn bundles ("" if none)."""
    if runtime_python() == sys.executable:
        from agent.runtimes.qnn_ep import qnn_versions

        return qnn_versions().get("qnn_sdk", "")
    code = (
        "from agent.runtimes.qnn_ep import qnn_versions; print(qnn_versions().get('qnn_sdk', ''))"
    )
    return _answer(code)


def _answer(code: str) -> str:
    """What ``code`` prints when the runtime interpreter runs it, with this checkout first on
    its path (as the worker daemon has it); "" when it cannot run."""
    return _run(runtime_python(), code)


@functools.cache
def _run(python: str, code: str) -> str:
    root = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    try:
        done = subprocess.run(
            [python, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
