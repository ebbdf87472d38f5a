"""``--qnn_options`` on the ``qnn-net-run`` path: which flag or config key each sub-option becomes.

The sub-options themselves (allowed values, defaults) are declared once, in
``contract.option_tables``; this module holds only qnn-net-run's half, in the shape
``agent/runtimes/qnn_ep_options.py`` uses for the ONNX Runtime path. qnn-net-run takes:

* ``--perf_profile <mode>`` (documented flag; the documented HTP modes in lower case);
* ``--config_file net_run.json`` whose ``context_configs`` / ``graph_configs``
  carry context and graph settings, and whose ``backend_extensions`` names the HTP
  extension library (``libQnnHtpNetRunExtensions.so``) and its own JSON
  (``graphs``: ``vtcm_mb``, ``O``, ``fp16_relaxed_precision``, ``hvx_threads``;
  ``devices``: ``soc_model``, ``dsp_arch``).

Where each key comes from (``source``): ``qnn-doc`` the qnn-net-run help text;
``public-use`` seen in public scripts that drive qnn-net-run /
qnn-context-binary-generator with these exact keys; ``inferred`` named after the
QNN C API field with the convention of the documented keys, not seen in use:
check on a device before relying on it. None of this ran on hardware here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from agent.errors import AgentError
from agent.sub_options import SubOptions, with_htp_defaults
from contract.option_spec import SubValue


class Target(Enum):
    """Where a sub-option lands on the qnn-net-run path."""

    PERF_PROFILE = "perf_profile"  # the --perf_profile flag
    CONTEXT = "context"  # net-run config file, "context_configs"
    GRAPH = "graph"  # net-run config file, "graph_configs" (one entry per named graph)
    HTP_GRAPH = "htp_graph"  # HTP backend extension JSON, "graphs"
    IMPLICIT = "implicit"  # accepted: qnn-net-run always behaves this way
    NONE = "none"  # no flag or key: recorded as a warning


def _lower(value: SubValue) -> str:
    return str(value).lower()


def _same(value: SubValue) -> object:
    return list(value) if isinstance(value, tuple) else value


def _one(value: SubValue) -> object:
    return 1  # FLOAT16 is the only choice: it switches the key on


@dataclass(frozen=True)
class NetRunRule:
    """qnn-net-run's half of one ``--qnn_options`` sub-option."""

    target: Target
    key: str = ""
    convert: Callable[[SubValue], object] = _same
    source: str = ""
    note: str = ""
    htp_only: bool = False


_NO_FLAG = "qnn-net-run has no flag or config key devicelab knows for it"
_GPU_NOTE = "devicelab passes no GPU backend extension config to qnn-net-run"


def _none(note: str = _NO_FLAG) -> NetRunRule:
    return NetRunRule(Target.NONE, note=note)


def _htp(key: str, convert: Callable[[SubValue], object] = _same) -> NetRunRule:
    return NetRunRule(Target.HTP_GRAPH, key, convert, "public-use", htp_only=True)


#: Every sub-option of the shared "Qualcomm AI Engine Direct Options" table, in its order.
NET_RUN_OPTIONS: dict[str, NetRunRule] = {
    "context_async_execution_queue_depth_numeric": NetRunRule(
        Target.CONTEXT, "async_execute_queue_depth", source="inferred"
    ),
    "context_enable_graphs": NetRunRule(Target.CONTEXT, "enable_graphs", source="public-use"),
    "context_error_reporting_options_level": _none(),
    "context_error_reporting_options_storage_limit": _none(),
    "context_memory_limit_hint": NetRunRule(Target.CONTEXT, "memory_limit_hint", source="inferred"),
    "context_priority": NetRunRule(Target.CONTEXT, "context_priority", _lower, "inferred"),
    "context_gpu_performance_hint": _none(_GPU_NOTE),
    "context_gpu_use_gl_buffers": _none(_GPU_NOTE),
    "context_htp_performance_mode": NetRunRule(
        Target.PERF_PROFILE, "--perf_profile", _lower, "qnn-doc", htp_only=True
    ),
    "default_graph_priority": NetRunRule(Target.GRAPH, "graph_priority", _lower, "inferred"),
    "default_graph_gpu_precision": _none(_GPU_NOTE),
    "default_graph_gpu_disable_memory_optimizations": _none(_GPU_NOTE),
    "default_graph_gpu_disable_node_optimizations": _none(_GPU_NOTE),
    "default_graph_gpu_disable_queue_recording": _none(_GPU_NOTE),
    "default_graph_htp_disable_fold_relu_activation_into_conv": _none(),
    "default_graph_htp_num_hvx_threads": _htp("hvx_threads"),
    "default_graph_htp_optimization_type": NetRunRule(
        Target.IMPLICIT, note="the HTP extension's 'O' is the finalize optimization level"
    ),
    "default_graph_htp_optimization_value": _htp("O"),
    "default_graph_htp_precision": _htp("fp16_relaxed_precision", _one),
    "default_graph_htp_disable_short_depth_conv_on_hmx": _none(),
    "default_graph_htp_vtcm_size": _htp("vtcm_mb"),
}


@dataclass
class NetRunPlan:
    """``--qnn_options`` mapped for one qnn-net-run invocation."""

    perf_profile: str | None = None
    context_configs: dict[str, object] = field(default_factory=dict)
    graph_configs: dict[str, object] = field(default_factory=dict)
    htp_graph: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def enable_graphs(self) -> list[str]:
        """Graph names from ``context_enable_graphs`` (empty: all graphs)."""
        graphs = self.context_configs.get("enable_graphs", [])
        return [str(name) for name in graphs] if isinstance(graphs, list) else []


def plan_net_run_options(qnn: SubOptions, backend: str, context_binary: bool) -> NetRunPlan:
    """Map the job's ``--qnn_options`` (parsed once, ``agent/sub_options.py``) onto
    qnn-net-run for ``backend`` ("htp" or "gpu").

    On HTP the documented defaults the lab applies come first (``with_htp_defaults``,
    shared with the ONNX Runtime path). A sub-option with no equivalent here becomes a
    warning naming it, never a silent drop.

    Raises:
        AgentError: A shared sub-option without a rule here (a test guards it).
    """
    if backend == "htp":
        qnn = with_htp_defaults(qnn)
    plan = NetRunPlan()
    for name, value in qnn.values.items():
        rule = NET_RUN_OPTIONS.get(name)
        if rule is None:
            raise AgentError(f"qnn_options {name}: no qnn-net-run rule for this sub-option")
        _apply(plan, name, qnn.texts[name], value, rule, (backend, context_binary))
    return plan


def _apply(
    plan: NetRunPlan,
    name: str,
    text: str,
    value: SubValue,
    rule: NetRunRule,
    path: tuple[str, bool],
) -> None:
    """Add sub-option ``name`` (received as ``text``, typed ``value``) to ``plan``.

    ``path`` is (QNN backend, whether the model is a context binary).
    """
    backend, context_binary = path
    label = f"qnn_options {name}={text}"
    if rule.target is Target.NONE:
        plan.warnings.append(f"{label} not applied: {rule.note}")
    elif rule.htp_only and backend != "htp":
        plan.warnings.append(f"{label} not applied: HTP only, QNN backend in use is {backend}")
    elif rule.target is Target.IMPLICIT:
        plan.settings[name] = f"{value} ({rule.note})"
    elif rule.target is Target.PERF_PROFILE:
        plan.perf_profile = str(rule.convert(value))
    elif rule.target is Target.CONTEXT:
        plan.context_configs[rule.key] = rule.convert(value)
    elif rule.target is Target.GRAPH:
        plan.graph_configs[rule.key] = rule.convert(value)
    elif context_binary:
        # Graph options shape HTP graph finalization; a context binary was finalized
        # when it was compiled, so on this path they cannot change anything.
        plan.warnings.append(
            f"{label} not applied: a context binary's graphs were finalized when it was "
            "compiled (set it in the compile job)"
        )
    else:
        plan.htp_graph[rule.key] = rule.convert(value)


def graph_configs_for(plan: NetRunPlan) -> tuple[list[dict[str, object]], list[str]]:
    """``graph_configs`` entries (they need graph names) and warnings when there are none."""
    if not plan.graph_configs:
        return [], []
    if not plan.enable_graphs:
        keys = ", ".join(sorted(plan.graph_configs))
        return [], [
            f"qnn_options {keys} not applied: qnn-net-run sets graph options per graph name; "
            "name the graphs with context_enable_graphs"
        ]
    return [{"graph_name": name, **plan.graph_configs} for name in plan.enable_graphs], []
