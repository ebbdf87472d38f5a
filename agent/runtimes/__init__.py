"""Runtime registry: the module of each runtime; which suffixes it loads is
``agent/formats.py``'s (one table both sides read).

Runtime modules are imported lazily so an agent on a device without, say,
onnxruntime still serves LiteRT jobs and reports ONNX as unavailable.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from agent.errors import InvalidModelError, RuntimeUnavailableError
from agent.formats import FORMATS, suffixes_of_runtime
from agent.runtimes.base import Runtime, RuntimeInfo

# name -> (module, class); a format names its runtime in agent/formats.py.
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


def runtime_name_for(model_path: Path) -> str:
    """The name of the runtime that loads ``model_path`` (no import: a cheap check)."""
    suffix = model_path.suffix.lower()
    for name in _MODULES:
        if suffix in suffixes_of_runtime(name):
            return name
    known = sorted(fmt.suffix for fmt in FORMATS if fmt.agent_runtime in _MODULES)
    raise InvalidModelError(
        f"{model_path.name}: no runtime for suffix '{suffix}' (known: {', '.join(known)})"
    )


def runtime_for(model_path: Path) -> Runtime:
    """The runtime that loads ``model_path``, chosen by its suffix."""
    return get_runtime(runtime_name_for(model_path))


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
