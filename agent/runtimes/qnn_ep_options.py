"""``--qnn_options`` on ONNX Runtime's QNN EP path: which provider option each becomes.

The sub-options are declared once, in ``contract.option_tables``, and parsed once per job
(``agent/sub_options.py``); ``QNN_OPTIONS`` holds only the EP's half: the provider key
and value conversion, or why the EP has no equivalent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from agent.errors import AgentError
from agent.runtimes.qnn_ep import HTP, QnnBackend
from agent.sub_options import SubOptions, with_htp_defaults
from contract.option_spec import SubValue


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
    """The QNN EP spells the documented upper-case enum names in lower case."""
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


def map_qnn_options(qnn: SubOptions, backend: QnnBackend | None) -> QnnOptionPlan:
    """Map the job's ``--qnn_options`` (parsed once, ``agent/sub_options.py``) for ``backend``.

    On HTP the documented defaults the lab applies come first (``with_htp_defaults``).
    A sub-option with no equivalent on this path becomes a warning that names it;
    nothing is dropped silently.

    Raises:
        AgentError: a shared sub-option without a rule here (our bug; a test guards it).
    """
    if backend is not None and backend.key == "htp":
        qnn = with_htp_defaults(qnn)
    plan = QnnOptionPlan()
    for key, value in qnn.values.items():
        rule = QNN_OPTIONS.get(key)
        if rule is None:
            raise AgentError(f"qnn_options {key}: no QNN EP rule for this sub-option")
        _apply_rule(plan, key, qnn.texts[key], value, rule, backend)
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
