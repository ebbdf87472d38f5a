"""QNN context binaries from ONNX models: ONNX Runtime's EP-context generation, QNN EP, HTP.

A host compile step that needs the runtime itself, so it runs where the agent's
runtimes are: on the host, in devicelab's managed runtime (``python agent.zip
qnn-context ...``, started by ``controller/compile/_runtime.py``), so the binary is
prepared by the same pinned onnxruntime-qnn, hence the same QNN SDK, that runs it.
The session writes ``<name>_ctx.onnx`` (an EPContext wrapper) and the ``.bin`` files
beside it; what each ``.bin`` declares is read back with ``libQnnSystem.so``.

The answer is JSON-ready: ``settings`` (the QNN options as the session holds them),
``binaries`` (file name -> graphs and their I/O), ``versions``; or ``error`` (``missing``:
onnxruntime-qnn cannot be used here; ``rejected``: QNN could not prepare the model;
``unreadable``: a written binary cannot be read back) with a ``message``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.errors import AgentError, MissingLibraryError
from agent.runtimes.qnn_context import QnnTensorInfo, read_context_binary
from agent.runtimes.qnn_ep import QNN_CONFIG_PREFIX, qnn_versions, register_qnn_ep


def generate_context(model: Path, provider: dict[str, str], context_model: Path) -> dict[str, Any]:
    """Build ``context_model`` and its ``.bin`` from ``model`` with the QNN EP ``provider``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3  # errors only; the caller checks what QNN left out
    so.add_session_config_entry("ep.context_enable", "1")
    so.add_session_config_entry("ep.context_embed_mode", "0")  # the .bin as its own file
    so.add_session_config_entry("ep.context_file_path", str(context_model))
    try:
        so.add_provider_for_devices(register_qnn_ep(ort), provider)
        session = ort.InferenceSession(str(model), sess_options=so)
    except MissingLibraryError as exc:
        return {"error": "missing", "message": str(exc)}
    except Exception as exc:  # ORT raises its own pybind classes, not a common base
        return {"error": "rejected", "message": _last_line(exc)}
    held = session.get_session_options()
    settings = {key: _held(held, key, value) for key, value in provider.items()}
    try:
        binaries = {
            path.name: _graphs(path)
            for path in sorted(context_model.parent.glob(f"{context_model.stem}*.bin"))
        }
    except AgentError as exc:
        return {"error": "unreadable", "message": str(exc)}
    versions = {"onnxruntime": str(ort.__version__), **qnn_versions()}
    return {"settings": settings, "binaries": binaries, "versions": versions}


def _graphs(binary: Path) -> list[dict[str, Any]]:
    info = read_context_binary(binary)
    return [
        {"name": g.name, "inputs": _tensors(g.inputs), "outputs": _tensors(g.outputs)}
        for g in info.graphs
    ]


def _tensors(tensors: tuple[QnnTensorInfo, ...]) -> list[dict[str, Any]]:
    return [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in tensors]


def _held(held: Any, key: str, asked: str) -> str:
    try:
        return str(held.get_session_config_entry(QNN_CONFIG_PREFIX + key))
    except RuntimeError:
        return f"{asked} (missing from the session config)"


def _last_line(exc: Exception) -> str:
    # ORT prefixes errors with source paths and C++ signatures; the last line explains.
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
