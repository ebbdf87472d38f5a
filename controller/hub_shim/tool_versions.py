"""The tools a job ran or compiled with, named as the cloud's ``ToolVersion`` entries.

qai-hub-models reads "QAIRT"/"QNN", "ONNX Runtime", "ONNX", "TensorFlow Lite" and
"LiteRT" (``qai_hub_models/configs/tool_versions.py``); devicelab's results record the
runtime that ran (``devicelab.applied``) and the compiler's tool versions
(``details.versions``, ``controller/compile/_compile.py``).
"""

from __future__ import annotations

from typing import Any

from controller.qairt import qnn_version_ran

#: devicelab's runtime names -> the cloud's tool names.
RUNTIME_NAMES = {
    "litert": "LiteRT",
    "tflite_runtime": "TensorFlow Lite",
    "onnxruntime": "ONNX Runtime",
}
QAIRT = "QAIRT"


def run_tools(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, version) of the runtime a profile or inference result ran on, and QAIRT
    when QNN ran it."""
    applied = (result.get("devicelab") or {}).get("applied") or {}
    tools = []
    runtime, version = applied.get("runtime", ""), applied.get("runtime_version", "")
    if runtime and version:
        tools.append((RUNTIME_NAMES.get(runtime, runtime), version))
    qnn_sdk = qnn_version_ran(applied)
    if qnn_sdk:
        tools.append((QAIRT, qnn_sdk))
    return tools


def compile_tools(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, version) of the tools a compile result was produced with."""
    details = result.get("details") or {}
    versions = details.get("versions") or {}
    tools = [
        (name, versions[key])
        for key, name in (("onnx", "ONNX"), ("onnxruntime", "ONNX Runtime"))
        if versions.get(key)
    ]
    if details.get("qnn") and versions.get("qnn_sdk"):
        tools.append((QAIRT, versions["qnn_sdk"]))
    converter = details.get("converter") or {}
    if converter.get("name") and converter.get("version"):
        tools.append((converter["name"], converter["version"]))
    return tools
