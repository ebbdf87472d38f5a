"""The Python interpreter the worker daemon runs under: where host compile jobs run.

A compile job's PyTorch steps (``torch.onnx.export``, litert-torch's TFLite conversion)
and its quantization run in the worker's own process (``controller/runners/compile.py``), so they
use the worker's packages. ``DEVICELAB_RUNTIME_PYTHON`` names that interpreter; by
default it is the one that imports devicelab. Naming another keeps those converters apart
from a user's environment: qai-hub-models 0.65 pins ai-edge-litert <= 2.1.1, while
litert-torch needs ai-edge-litert >= 2.3, so a script in the zoo's environment submits
and devicelab's own environment converts. Submit-time checks ask this interpreter too.
(The agents measure on devicelab's managed runtime: ``controller/transports/local_runtime.py``.)
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from controller import settings

RUNTIME_PYTHON_ENV = "DEVICELAB_RUNTIME_PYTHON"
#: How long asking the runtime interpreter which modules it has may take.
_PROBE_TIMEOUT_S = 60


def runtime_python() -> str:
    """The interpreter the worker daemon and the local agent run under."""
    return settings.path_text(RUNTIME_PYTHON_ENV) or sys.executable


def runtime_has(module: str) -> bool:
    """Whether ``module`` is importable by the runtime interpreter (found, not imported)."""
    if runtime_python() == sys.executable:
        import importlib.util

        return importlib.util.find_spec(module) is not None
    code = f"import importlib.util; print(importlib.util.find_spec({module!r}) is not None)"
    return _answer(code) == "True"


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
