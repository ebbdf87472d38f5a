"""Runtime registry: the module of each runtime; which model types it loads is
``contract/formats.py``'s (one table both sides read).

A job names its model's type (``ProfileRequest.model_type``); an older controller
sends none, and then the type is the file name's suffix's (``model_format``), decided
once, where the request enters the agent.

Runtime modules are imported lazily so an agent on a device without, say,
onnxruntime still serves LiteRT jobs and reports ONNX as unavailable.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from agent.errors import InvalidModelError, RuntimeUnavailableError
from agent.runtimes.base import Runtime, RuntimeInfo
from contract.formats import FORMATS, ModelFormat, format_of_suffix, format_of_type

# name -> (module, class); a format names its runtime in contract/formats.py.
_MODULES: dict[str, tuple[str, str]] = {
    "litert": ("agent.runtimes.litert", "LiteRtRuntime"),
    "onnxruntime": ("agent.runtimes.onnx_runtime", "OnnxRuntime"),
}


@cache
def get_runtime(name: str, library_dirs: tuple[str, ...] = ()) -> Runtime:
    """The runtime instance called ``name``; RuntimeUnavailableError if it cannot import.

    ``library_dirs``: where its ``info()`` looks first for QNN and delegate libraries
    (a device profile's folders, sent with ``GetDeviceInfo``); jobs carry their own.
    """
    module_name, class_name = _MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RuntimeUnavailableError(
            f"runtime {name} is not installed on this device: {exc}"
        ) from exc
    runtime: Runtime = getattr(module, class_name)(library_dirs)
    return runtime


def model_format(model_type: str, file_name: str) -> ModelFormat:
    """The runnable format of a job's model: ``model_type``, else ``file_name``'s suffix.

    Raises:
        InvalidModelError: ``model_type`` names no runnable format, or (no type given)
            the file name's suffix is none of the runnable formats'.

    Example:
        >>> model_format("onnx", "model").suffix
        '.onnx'
    """
    runnable = [fmt.model_type for fmt in FORMATS if fmt.runnable]
    if model_type:
        fmt = format_of_type(model_type)
        if fmt is None or not fmt.runnable:
            raise InvalidModelError(
                f"model_type {model_type!r} is not a model type a job runs "
                f"(known: {', '.join(runnable)})"
            )
        return fmt
    suffix = Path(file_name).suffix.lower()
    fmt = format_of_suffix(suffix)
    if fmt is None or not fmt.runnable:
        known = sorted(f.suffix for f in FORMATS if f.runnable)
        raise InvalidModelError(
            f"{Path(file_name).name}: no runtime for suffix '{suffix}' (known: {', '.join(known)})"
        )
    return fmt


def runtime_name_for(model_path: Path, model_type: str = "") -> str:
    """The name of the runtime that loads the model (no import: a cheap check).

    Raises:
        InvalidModelError: an unknown type or suffix, or a format no in-process runtime
            loads (a QNN model library: only ``qnn-net-run`` runs it).
    """
    fmt = model_format(model_type, model_path.name)
    if fmt.agent_runtime not in _MODULES:
        raise InvalidModelError(
            f"{model_path.name}: no in-process runtime loads a {fmt.model_type} model"
        )
    return fmt.agent_runtime


def runtime_for(model_path: Path, model_type: str = "") -> Runtime:
    """The runtime that loads the model: by ``model_type``, else by the file's suffix."""
    return get_runtime(runtime_name_for(model_path, model_type))


def all_runtime_info(library_dirs: tuple[str, ...] = ()) -> list[RuntimeInfo]:
    """What every registered runtime reports about itself on this device, looking in
    ``library_dirs`` first for the libraries of its accelerators."""
    infos = []
    for name in _MODULES:
        try:
            infos.append(get_runtime(name, library_dirs).info())
        except RuntimeUnavailableError as exc:
            infos.append(RuntimeInfo(name=name, version="", available=False, detail=str(exc)))
    return infos
