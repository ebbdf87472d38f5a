"""The QNN execution provider of ONNX Runtime: its backends, registration and device options.

``onnxruntime-qnn`` ships the QNN EP as a *plugin* EP plus the QNN backend libraries
(``libQnnHtp.so`` runs as a simulator on x86_64 hosts). One ORT session holds at most
one QNN EP instance, hence one QNN backend: ``onnx_runtime.py`` picks the first
backend that works and records the others as fallbacks.

The rest of the QNN EP path has its own modules: ``--qnn_options`` mapped onto provider
options (``qnn_ep_options.py``), the QNN profiling CSV (``qnn_profile_csv.py``), and
where the libraries are found (``libraries.py``, policy ``Policy.QNN_EP``).
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from agent.errors import InvalidOptionError, MissingLibraryError
from agent.runtimes.base import COMPUTE_UNIT_CHOICES, RunConfig
from agent.runtimes.libraries import Policy, qnn_package_dir, searched
from agent.runtimes.libraries import find_library as _find_library

QNN_EP_NAME = "QNNExecutionProvider"
QNN_PROVIDER_LIBRARY = "libonnxruntime_providers_qnn.so"
#: The plugin EP keeps its provider options as session config entries under this prefix.
QNN_CONFIG_PREFIX = "ep.qnnexecutionprovider."
QNN_SYSTEM_LIBRARY = "libQnnSystem.so"


@dataclass(frozen=True)
class QnnBackend:
    """One QNN backend the QNN EP can drive."""

    key: str  # QNN EP ``backend_type`` value
    library: str
    compute_unit: str  # what per-layer timings report
    ep_option: str  # the ``--onnx_execution_providers`` value selecting it
    backend_id: int  # QNN_BACKEND_ID_* as stored in context binaries


HTP = QnnBackend("htp", "libQnnHtp.so", "NPU", "qnn", 6)
GPU = QnnBackend("gpu", "libQnnGpu.so", "GPU", "qnn-gpu", 4)
BACKENDS: tuple[QnnBackend, ...] = (HTP, GPU)


def qnn_versions() -> dict[str, str]:
    """Versions of onnxruntime-qnn and the QNN SDK it bundles (empty when absent)."""
    try:
        from onnxruntime_qnn import build_and_package_info as info
    except ImportError:
        return {}
    return {
        "onnxruntime_qnn": str(getattr(info, "__version__", "")),
        "qnn_sdk": str(getattr(info, "qnn_version", "")),
    }


def find_library(name: str, library_dirs: Sequence[str]) -> Path | None:
    """``name`` in the job's folders, then the ``onnxruntime_qnn`` package; None when absent."""
    return _find_library(name, library_dirs, Policy.QNN_EP)


def available_backends(library_dirs: Sequence[str] = ()) -> tuple[QnnBackend, ...]:
    """Backends whose library is present (present is not the same as usable: no GPU here)."""
    return tuple(b for b in BACKENDS if find_library(b.library, library_dirs) is not None)


_REGISTER_LOCK = threading.Lock()
_registered = False
# Where a Snapdragon Linux board exposes the HTP: the fastrpc node and the DSP RPC library.
_FASTRPC_NODES = ("/dev/fastrpc-cdsp", "/dev/fastrpc-cdsp-secure")
_CDSPRPC = "libcdsprpc.so"
_CDSPRPC_DIRS = ("/usr/lib", "/usr/lib/aarch64-linux-gnu", "/vendor/lib64", "/odm/lib64")


def register_qnn_ep(ort: ModuleType) -> list[Any]:
    """Register the QNN plugin EP with ORT (once per process); return its ``OrtEpDevice``s.

    Registration is remembered, not inferred from the devices: where the plugin
    registers but offers no device (an aarch64 host without fastrpc), a second
    registration would fail with "already registered".

    Raises:
        MissingLibraryError: ``onnxruntime-qnn`` is not installed, or it offers no
            device here (naming why: no fastrpc node, no ``libcdsprpc.so``).
    """
    global _registered
    if not hasattr(ort, "get_ep_devices"):
        # Plugin EPs came with ONNX Runtime 1.23; an environment pinned older (qai-hub-models
        # 0.65 pins onnxruntime <= 1.22.1) runs ONNX models on the CPU only.
        raise MissingLibraryError(
            f"ONNX Runtime {ort.__version__} cannot load plugin execution providers "
            "(onnxruntime-qnn needs onnxruntime >= 1.24)"
        )
    with _REGISTER_LOCK:
        devices = [d for d in ort.get_ep_devices() if d.ep_name == QNN_EP_NAME]
        if devices:
            return devices
        if not _registered:
            package = qnn_package_dir()
            if package is None:
                raise MissingLibraryError(
                    f"{QNN_PROVIDER_LIBRARY} not found: "
                    "the onnxruntime-qnn package is not installed"
                )
            ort.register_execution_provider_library(
                QNN_EP_NAME, str(package / QNN_PROVIDER_LIBRARY)
            )
            _registered = True
        devices = [d for d in ort.get_ep_devices() if d.ep_name == QNN_EP_NAME]
        if not devices:
            raise MissingLibraryError(f"the QNN EP offers no device here: {no_device_reason()}")
        return devices


def no_device_reason() -> str:
    """Why the QNN plugin may offer no HTP device on this machine (what is missing)."""
    import platform

    if platform.machine() not in ("aarch64", "arm64"):
        return f"the plugin found no QNN device on this {platform.machine()} host"
    missing = []
    if not any(Path(node).exists() for node in _FASTRPC_NODES):
        missing.append(f"no {_FASTRPC_NODES[0]} (the HTP is reached through fastrpc)")
    if not any((Path(d) / _CDSPRPC).exists() for d in _CDSPRPC_DIRS):
        missing.append(f"no {_CDSPRPC} in {', '.join(_CDSPRPC_DIRS)}")
    return "; ".join(missing) or "fastrpc is present but the plugin reported no device"


def backend_provider_options(backend: QnnBackend, library_dirs: Sequence[str]) -> dict[str, str]:
    """``backend_path`` when the job ships its own backend library, else ``backend_type``.

    Raises:
        MissingLibraryError: the backend library is in none of the searched directories.
    """
    library = find_library(backend.library, library_dirs)
    if library is None:
        where = searched(library_dirs, Policy.QNN_EP)
        raise MissingLibraryError(f"{backend.library} not found (searched: {where})")
    package = qnn_package_dir()
    if package is not None and library.parent == package:
        return {"backend_type": backend.key}
    return {"backend_path": str(library)}


_EP_OPTIONS = {HTP.ep_option: HTP, GPU.ep_option: GPU}
_UNIT_BACKENDS = {"npu": HTP, "gpu": GPU}


def requested_backends(config: RunConfig) -> list[QnnBackend]:
    """QNN backends to try, in order, from ``onnx_execution_providers`` or ``compute_units``.

    Raises:
        InvalidOptionError: an EP or compute unit this runtime does not know.
    """
    if config.onnx_execution_providers:
        unknown = [ep for ep in config.onnx_execution_providers if ep not in _EP_OPTIONS]
        if unknown:
            raise InvalidOptionError(f"onnx_execution_providers: unknown {unknown}")
        return list(dict.fromkeys(_EP_OPTIONS[ep] for ep in config.onnx_execution_providers))
    units = set(config.compute_units) or {"all"}
    unknown = sorted(units - set(COMPUTE_UNIT_CHOICES))
    if unknown:
        raise InvalidOptionError(f"compute_unit: unknown {unknown} (known: {COMPUTE_UNIT_CHOICES})")
    # Comma-separated units are unordered: priority is always NPU, GPU, CPU.
    return [b for unit, b in _UNIT_BACKENDS.items() if unit in units or "all" in units]


def usable_backends(
    ort: ModuleType, requested: list[QnnBackend], library_dirs: Sequence[str]
) -> tuple[list[QnnBackend], list[str]]:
    """Requested backends whose EP and library exist; a fallback line for every other one."""
    usable, fallbacks = [], []
    for backend in requested:
        try:
            register_qnn_ep(ort)
            backend_provider_options(backend, library_dirs)
        except MissingLibraryError as exc:
            fallbacks.append(f"{backend.ep_option}: {exc}")
            continue
        usable.append(backend)
    return usable, fallbacks


_NOT_FLOAT_OPS = ("QuantizeLinear", "DequantizeLinear", "EPContext")


def is_float_model(path: Path) -> bool:
    """True unless the ONNX model has QDQ nodes or is precompiled (EPContext nodes).

    Looks for NodeProto field 4 (``op_type``) bytes instead of parsing the model: the
    agent has no ``onnx`` package, and scanning a mapped file costs milliseconds.
    """
    if path.stat().st_size == 0:
        return True
    needles = [b'"' + bytes([len(op)]) + op.encode() for op in _NOT_FLOAT_OPS]
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return all(m.find(needle) < 0 for needle in needles)


FP16_WITHOUT_SOC = "fp32 model on HTP without a soc_model: enable_htp_fp16_precision not set"
NO_HTP_FP16 = (
    "fp32 model on an HTP without fp16 (htp-supports-fp16:false): "
    "enable_htp_fp16_precision not set; quantize the model (QDQ) to run it on the NPU"
)


def htp_device_options(
    config: RunConfig, fp16_asked: bool, float_model: bool
) -> tuple[dict[str, str], str | None]:
    """``soc_model`` / ``htp_arch`` (/ ``vtcm_mb``), plus fp16 for fp32 graphs; and a warning.

    HTP runs float graphs in fp16, and the QNN EP accepts ``enable_htp_fp16_precision``
    only together with ``soc_model``. QDQ and precompiled models need neither. A SoC
    whose HTP has no fp16 (``htp_fp16 == "false"``) is not asked for it unless the
    user asks explicitly.

    Raises:
        InvalidOptionError: FLOAT16 asked for explicitly, with no soc_model to go with it.
    """
    facts = {"soc_model": config.soc_model, "htp_arch": config.htp_arch, "vtcm_mb": config.vtcm_mb}
    device = {key: value for key, value in facts.items() if value}
    if not fp16_asked and not float_model:
        return device, None
    if "soc_model" in device:
        if config.htp_fp16 == "false" and not fp16_asked:
            return device, NO_HTP_FP16
        return {**device, "enable_htp_fp16_precision": "1"}, None
    if fp16_asked:
        raise InvalidOptionError("default_graph_htp_precision=FLOAT16 needs the device soc_model")
    return device, FP16_WITHOUT_SOC
