"""The QNN execution provider of ONNX Runtime: backends, registration, options, profiling CSV.

``onnxruntime-qnn`` ships the QNN EP as a *plugin* EP plus the QNN backend libraries
(``libQnnHtp.so`` runs as a simulator on x86_64 hosts). One ORT session holds at most
one QNN EP instance, hence one QNN backend: ``onnx_runtime.py`` picks the first
backend that works and records the others as fallbacks.

The ``--qnn_options`` sub-options (declared once, in ``agent.option_tables``) map to
QNN EP provider options through ``QNN_OPTIONS``, which holds only the EP's half: the
provider key and value conversion, or why the EP has no equivalent.
"""

from __future__ import annotations

import csv
import mmap
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any

from agent.errors import AgentError, InvalidOptionError, MissingLibraryError
from agent.option_spec import SubValue, parse_wire_options
from agent.option_tables import QNN_SUB_OPTIONS
from agent.runtimes.base import LayerTiming, RunConfig

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


def qnn_package_dir() -> Path | None:
    """Directory of the ``onnxruntime_qnn`` package (EP + QNN libraries), or None."""
    try:
        import onnxruntime_qnn
    except ImportError:
        return None
    return Path(onnxruntime_qnn.get_library_path()).parent


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


def library_search_dirs(library_dirs: Sequence[str]) -> list[Path]:
    """Where QNN libraries are looked for: the job's directories first, then the package."""
    dirs = [Path(d) for d in library_dirs]
    package = qnn_package_dir()
    if package is not None:
        dirs.append(package)
    return dirs


def find_library(name: str, library_dirs: Sequence[str]) -> Path | None:
    """First ``name`` found in ``library_search_dirs``; None when absent everywhere."""
    for directory in library_search_dirs(library_dirs):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


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
        searched = ", ".join(str(d) for d in library_search_dirs(library_dirs)) or "nowhere"
        raise MissingLibraryError(f"{backend.library} not found (searched: {searched})")
    package = qnn_package_dir()
    if package is not None and library.parent == package:
        return {"backend_type": backend.key}
    return {"backend_path": str(library)}


_EP_OPTIONS = {HTP.ep_option: HTP, GPU.ep_option: GPU}
_UNIT_BACKENDS = {"npu": HTP, "gpu": GPU}
COMPUTE_UNITS = ("all", "npu", "gpu", "cpu")


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
    unknown = sorted(units - set(COMPUTE_UNITS))
    if unknown:
        raise InvalidOptionError(f"compute_unit: unknown {unknown} (known: {COMPUTE_UNITS})")
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


# --------------------------------------------------------------------------------------
# --qnn_options -> QNN EP provider options
# --------------------------------------------------------------------------------------


class OptionKind(Enum):
    """Where a ``--qnn_options`` sub-option goes on the ONNX Runtime QNN EP path."""

    PROVIDER = "provider"  # becomes a QNN EP provider option
    IMPLICIT = "implicit"  # accepted: the QNN EP always behaves this way
    CONTEXT_BINARY = "context_binary"  # applied when loading a .bin (graph selection)
    NO_EQUIVALENT = "no_equivalent"  # the QNN EP has no knob: recorded as a warning


def _text(value: SubValue) -> str:
    """Numbers as written; name lists comma separated."""
    return ",".join(value) if isinstance(value, tuple) else str(value)


def _lower(value: SubValue) -> str:
    """The QNN EP spells the seed's upper-case enum names in lower case."""
    return str(value).lower()


def _enabled(value: SubValue) -> str:
    """A choice whose only value switches the provider option on (FLOAT16 -> "1")."""
    return "1"


@dataclass(frozen=True)
class QnnOptionRule:
    """The QNN EP's half of one ``--qnn_options`` sub-option: how it lands on the EP.

    The sub-option itself (allowed values, range, default) is
    ``QNN_SUB_OPTIONS[name]``; values reach ``convert`` typed and already checked.
    """

    kind: OptionKind
    provider_key: str = ""
    convert: Callable[[SubValue], str] = _text
    note: str = ""  # why there is no equivalent, or how it applies implicitly
    htp_only: bool = False


_NO_EP_KNOB = "the ONNX Runtime QNN EP exposes no option for it"


def _none(note: str = _NO_EP_KNOB) -> QnnOptionRule:
    return QnnOptionRule(OptionKind.NO_EQUIVALENT, note=note)


def _provider(key: str, convert: Callable[[SubValue], str], htp_only: bool) -> QnnOptionRule:
    return QnnOptionRule(OptionKind.PROVIDER, key, convert, htp_only=htp_only)


#: Every sub-option of the shared "Qualcomm AI Engine Direct Options" table, in its order.
#: Provider option names come from the QNN EP source (onnxruntime-qnn, qnn_ep.cc).
QNN_OPTIONS: dict[str, QnnOptionRule] = {
    "context_async_execution_queue_depth_numeric": _none("ORT executes QNN graphs synchronously"),
    "context_enable_graphs": QnnOptionRule(
        OptionKind.CONTEXT_BINARY, note="selects graphs of a .bin"
    ),
    "context_error_reporting_options_level": _none(),
    "context_error_reporting_options_storage_limit": _none(),
    "context_memory_limit_hint": _none(),
    "context_priority": _provider("qnn_context_priority", _lower, htp_only=False),
    "context_gpu_performance_hint": _none(),
    "context_gpu_use_gl_buffers": _none(),
    "context_htp_performance_mode": _provider("htp_performance_mode", _lower, htp_only=True),
    "default_graph_priority": _none("the QNN EP sets context priority only (context_priority)"),
    "default_graph_gpu_precision": _none(),
    "default_graph_gpu_disable_memory_optimizations": _none(),
    "default_graph_gpu_disable_node_optimizations": _none(),
    "default_graph_gpu_disable_queue_recording": _none(),
    "default_graph_htp_disable_fold_relu_activation_into_conv": _none(),
    "default_graph_htp_num_hvx_threads": _none(),
    "default_graph_htp_optimization_type": QnnOptionRule(
        OptionKind.IMPLICIT,
        note="the QNN EP always uses FINALIZE_OPTIMIZATION_FLAG",
        htp_only=True,
    ),
    "default_graph_htp_optimization_value": _provider(
        "htp_graph_finalization_optimization_mode", _text, htp_only=True
    ),
    "default_graph_htp_precision": _provider("enable_htp_fp16_precision", _enabled, htp_only=True),
    "default_graph_htp_disable_short_depth_conv_on_hmx": _none(),
    # 0 ("use the maximum") is handled in _apply_rule: the EP treats 0 as "not set".
    "default_graph_htp_vtcm_size": _provider("vtcm_mb", _text, htp_only=True),
}


@dataclass
class QnnOptionPlan:
    """Result of mapping ``--qnn_options`` for one QNN backend (or none)."""

    provider_options: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # implicit ones, for the record
    enable_graphs: tuple[str, ...] = ()


# The seed documents BURST as the default HTP performance mode; the QNN EP's own
# default differs, and a lab must measure at the documented setting unless told
# otherwise. (Other defaults are left to the EP: VTCM, for one, is fixed when a
# context binary is compiled.)
_SEED_DEFAULTS_APPLIED = ("context_htp_performance_mode",)


def _seed_defaults(options: dict[str, str], backend: QnnBackend | None) -> dict[str, str]:
    if backend is None or backend.key != "htp":
        return {}
    return {
        key: str(QNN_SUB_OPTIONS[key].default)
        for key in _SEED_DEFAULTS_APPLIED
        if key not in options and QNN_SUB_OPTIONS[key].default is not None
    }


def map_qnn_options(options: dict[str, str], backend: QnnBackend | None) -> QnnOptionPlan:
    """Map ``--qnn_options`` onto QNN EP provider options for ``backend``.

    Values are checked against the shared table even when they end up unused. A
    sub-option with no equivalent on this path becomes a warning that names it;
    nothing is dropped silently.

    Raises:
        InvalidOptionError: unknown sub-option, or a value outside its allowed set.
        AgentError: a shared sub-option without a rule here (our bug; a test guards it).
    """
    options = {**_seed_defaults(options, backend), **options}
    try:
        values = parse_wire_options(QNN_SUB_OPTIONS, options, "--qnn_options")
    except ValueError as exc:
        raise InvalidOptionError(str(exc)) from exc
    plan = QnnOptionPlan()
    for key, value in values.items():
        rule = QNN_OPTIONS.get(key)
        if rule is None:
            raise AgentError(f"qnn_options {key}: no QNN EP rule for this sub-option")
        _apply_rule(plan, key, options[key], value, rule, backend)
    return plan


def _apply_rule(
    plan: QnnOptionPlan,
    key: str,
    text: str,
    value: SubValue,
    rule: QnnOptionRule,
    backend: QnnBackend | None,
) -> None:
    """Add sub-option ``key`` (received as ``text``, typed ``value``) to ``plan``."""
    label = f"qnn_options {key}={text}"
    converted = rule.convert(value)
    if rule.kind is OptionKind.NO_EQUIVALENT:
        plan.warnings.append(f"{label} not applied: {rule.note}")
    elif rule.kind is OptionKind.CONTEXT_BINARY:
        plan.enable_graphs = value if isinstance(value, tuple) else (converted,)
    elif backend is None:
        plan.warnings.append(f"{label} not applied: no QNN backend in use (CPU only)")
    elif rule.htp_only and backend is not HTP:
        plan.warnings.append(f"{label} not applied: HTP only, QNN backend in use is {backend.key}")
    elif rule.kind is OptionKind.IMPLICIT:
        plan.settings[key] = f"{converted} ({rule.note})"
    elif rule.provider_key == "vtcm_mb" and converted == "0":
        plan.warnings.append(
            f"{label} not applied: the QNN EP cannot request the maximum VTCM (it reads 0 as "
            "'unset'), so the backend's default VTCM size applies"
        )
    else:
        plan.provider_options[rule.provider_key] = converted


# --------------------------------------------------------------------------------------
# QNN profiling CSV (provider options profiling_level=detailed, profiling_file_path=...)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QnnOpSample:
    """One op of one QNN graph execution, as the backend reported it."""

    name: str
    type: str
    cycles: int | None
    time_us: float | None


@dataclass
class QnnExecution:
    """One QNN graph execution from the profiling CSV."""

    ops: list[QnnOpSample] = field(default_factory=list)
    accelerator_cycles: int | None = None
    accelerator_us: float | None = None
    execute_us: float | None = None


_ACCEL_CYCLES = "Accelerator (execute) time (cycles)"
_ACCEL_TIME = "Accelerator (execute) time"
_EXECUTE_TIME = "QNN (execute) time"


def parse_qnn_profile_csv(path: Path) -> list[QnnExecution]:
    """Split a QNN profiling CSV into graph executions (finalize rows are dropped).

    A block of rows belongs to one execution and ends with the ``QNN (execute) time``
    row; ``NODE`` rows inside it are the per-op samples.
    """
    executions: list[QnnExecution] = []
    current = QnnExecution()
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            identifier = (row.get("Event Identifier") or "").strip()
            if (row.get("Message") or "").strip() == "NODE":
                current.ops.append(_op_sample(identifier, row))
            elif identifier == _ACCEL_CYCLES:
                current.accelerator_cycles = int(float(row["Time"]))
            elif identifier == _ACCEL_TIME:
                current.accelerator_us = _microseconds(row)
            elif identifier == _EXECUTE_TIME:
                current.execute_us = _microseconds(row)
                executions.append(current)
                current = QnnExecution()
    return executions


_TO_MICROSECONDS = {"NS": 1e-3, "US": 1.0, "MS": 1e3, "S": 1e6}


def _microseconds(row: dict[str, str]) -> float:
    unit = (row.get("Unit of Measurement") or "US").strip().upper()
    return float(row["Time"]) * _TO_MICROSECONDS.get(unit, 1.0)


def _op_sample(identifier: str, row: dict[str, str]) -> QnnOpSample:
    """``conv1_token_1:OpId_23 (cycles)`` -> name ``conv1_token_1``; ``Input OpId_2`` -> Input."""
    label = identifier.removesuffix(" (cycles)").strip()
    name, _, _ = label.partition(":OpId_")
    kind = name.split(" ", 1)[0] if " OpId_" in name else ""
    unit = (row.get("Unit of Measurement") or "").strip().upper()
    if unit == "CYCLES":
        return QnnOpSample(name, kind, int(float(row["Time"])), None)
    return QnnOpSample(name, kind, None, _microseconds(row))


def execution_layers(
    execution: QnnExecution, compute_unit: str, op_types: dict[str, str]
) -> list[LayerTiming]:
    """Per-op ``LayerTiming`` rows of one QNN execution.

    HTP reports cycles per op but time only for the whole graph, so an op's time is its
    share of the accelerator execute time, in proportion to its cycles.
    """
    total = execution.accelerator_cycles or sum(op.cycles or 0 for op in execution.ops)
    layers = []
    for op in execution.ops:
        time_us = op.time_us
        if time_us is None and op.cycles is not None and total and execution.accelerator_us:
            time_us = execution.accelerator_us * op.cycles / total
        op_type = op_types.get(op.name) or op.type or "QNN"
        layers.append(LayerTiming(op.name, op_type, compute_unit, time_us or 0.0, op.cycles))
    return layers
