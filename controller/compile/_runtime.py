"""The compile steps that need the runtime itself run where this host's agent runs.

With ``DEVICELAB_LOCAL_RUNTIME=managed`` (the default) that is devicelab's managed
runtime (``controller/transports/local_runtime.py``): a QNN context binary is then
prepared by the same pinned onnxruntime-qnn (so the same QNN SDK) the agents run,
whatever ONNX Runtime the user's environment holds, and the base install needs none.
With ``current`` it is this process, as the agent is.

Which compile steps run where:
- in the runtime: QNN context-binary generation (``agent/context_gen.py``);
- here, with the ``onnx`` of the base install: the ONNX passes (checks, static shapes,
  output names, channel-last I/O), which need no runtime that measures;
- here, needing ``devicelab[agent]`` (or any onnxruntime) in this environment:
  quantization with its QNN pre-processing (``onnxruntime.quantization``, a Python
  package over ``onnx`` that the runtime leaves out: ``controller/device_runtime/trim.py``;
  moving it means shipping ``onnx`` in the runtime and running ``_quantize.py`` there);
  the result records which onnxruntime quantized;
- here, with their extras: torch -> ONNX (``devicelab[torch]``) and the TFLite
  converters (litert-torch; onnx2tf in a venv of its own: ``_tflite.py``), which the
  exports of a user's own PyTorch need anyway.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from controller.errors import InternalError
from controller.transports.local_runtime import agent_environment, host_python, managed_qnn_versions

# The HTP simulator prepares a graph in seconds for our models; a large one in minutes.
CONTEXT_TIMEOUT_S = 1800.0


def generate_context(model: Path, provider: dict[str, str], context_model: Path) -> dict[str, Any]:
    """``agent.context_gen.generate_context`` run where this host's agent runs."""
    python = host_python()
    if python.source == "current":
        from agent.context_gen import generate_context as in_process

        return in_process(model, provider, context_model)
    from controller.agent_bundle import agent_bundle

    command = [
        python.command, str(agent_bundle()), "qnn-context", "--model", str(model),
        "--context-model", str(context_model), "--provider-options", json.dumps(provider),
    ]  # fmt: skip
    env = agent_environment(python, dict(os.environ))
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=CONTEXT_TIMEOUT_S, env=env
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise InternalError(
            f"the managed runtime {python.runtime_id} failed building the QNN context binary "
            f"(exit {done.returncode}): {done.stderr.strip()[-800:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def runtime_versions() -> dict[str, str]:
    """The runtime's versions as a compile result records them (no import of the runtime)."""
    python = host_python()
    if python.source == "managed" and python.runtime is not None:
        wheels = python.runtime["wheels"]
        return {"runtime": f"managed {python.runtime_id}", "onnxruntime": wheels["onnxruntime"],
                **managed_qnn_versions(python)}  # fmt: skip
    try:
        import onnxruntime
    except ImportError:
        return {"runtime": "current"}
    from agent.runtimes.qnn_ep import qnn_versions

    return {"runtime": "current", "onnxruntime": onnxruntime.__version__, **qnn_versions()}
