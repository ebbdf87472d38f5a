"""``--target_runtime qnn_context_binary``: ONNX -> QNN context binary for one SoC.

The binary comes from ONNX Runtime's EP-context generation with the QNN EP on the
HTP backend (``onnxruntime-qnn``'s ``libQnnHtp.so`` prepares graphs for any SoC on
this host). The session writes ``<name>_ctx.onnx``, an ONNX wrapper whose EPContext
node points at the ``.bin``; the ``.bin`` is the artifact, which the agent runs
directly. Anything left outside the EPContext node is a node QNN refused: that is
an error here, since the user asked for a binary that holds the whole graph.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from agent.runtimes.qnn_ep import HTP
from controller.compile import _runtime
from controller.devices.profiles import DeviceProfile
from controller.errors import InternalError, UserError
from controller.options import Options

#: How many rejected node names an error lists before it summarises.
_NAMES_SHOWN = 5


@dataclass(frozen=True)
class QnnTarget:
    """What the HTP backend is asked to build for: one SoC and the job's settings.

    Example:
        >>> from controller.devices.profiles import load_profiles
        >>> gen2 = next(p for p in load_profiles() if p.part_number == "SM8550")
        >>> target = QnnTarget(gen2, vtcm_mb=4, optimization_level=2, fp16=False)
        >>> target.provider_options()["soc_model"], target.label
        ('43', 'SM8550 (soc_model 43)')
    """

    profile: DeviceProfile
    vtcm_mb: int
    optimization_level: int
    fp16: bool

    @property
    def label(self) -> str:
        return f"{self.profile.part_number} (soc_model {self.profile.soc_model})"

    def provider_options(self) -> dict[str, str]:
        """QNN EP provider options; names from onnxruntime-qnn's ``qnn_ep.cc``."""
        options = {
            # onnxruntime-qnn's own HTP library, in the runtime that generates the binary
            # (it says when there is none): this process may have no onnxruntime-qnn.
            "backend_type": HTP.key,
            "soc_model": str(self.profile.soc_model),
            "vtcm_mb": str(self.vtcm_mb),
            "htp_graph_finalization_optimization_mode": str(self.optimization_level),
            # Graph-input Q and output DQ go into the binary too (the EP's default hands
            # them to the CPU EP, which a bare .bin does not have).
            "offload_graph_io_quantization": "0",
        }
        if self.profile.htp_arch is not None:
            options["htp_arch"] = str(self.profile.htp_arch)
        if self.fp16:
            options["enable_htp_fp16_precision"] = "1"
        return options


def plan_target(
    options: Options, profile: DeviceProfile | None, float_model: bool
) -> tuple[QnnTarget, list[str]]:
    """The target for ``profile`` from the job's options, and notes on what was adjusted.

    Raises:
        UserError: no device with an HTP, a compute unit that excludes the NPU, an fp32
            model for an HTP without fp16, or more VTCM than the SoC has.
    """
    npu = _require_htp(profile)
    units = set(options.compute_unit)
    if not units & {"npu", "all"}:
        raise UserError(
            f"--compute_unit {','.join(options.compute_unit)}: a QNN context binary runs on the "
            "NPU (HTP backend) only; include npu or use another --target_runtime"
        )
    if float_model and not npu.htp_fp16:
        raise UserError(
            f"{npu.name} ({npu.part_number}) has no fp16 on its HTP, so this fp32 model cannot "
            "become a context binary for it; quantize it, e.g. --quantize_full_type int8 or w8a16"
        )
    vtcm, notes = _vtcm(options, npu)
    if float_model:
        notes.append("fp32 model compiled to run in fp16 on the HTP (enable_htp_fp16_precision=1)")
    return QnnTarget(npu, vtcm, options.qnn_context_binary_optimization_level, float_model), notes


def _require_htp(profile: DeviceProfile | None) -> DeviceProfile:
    if profile is None:
        raise UserError(
            "--target_runtime qnn_context_binary needs a target device: a context binary is "
            "built for one SoC"
        )
    if profile.soc_model is None:
        raise UserError(
            f"{profile.name} has no Qualcomm HTP (no soc_model in its device profile); a QNN "
            "context binary is built for one Snapdragon SoC: choose such a device"
        )
    return profile


def _vtcm(options: Options, profile: DeviceProfile) -> tuple[int, list[str]]:
    """``--qnn_context_binary_vtcm`` in MB: 0 means the SoC's maximum."""
    maximum = profile.vtcm_mb
    asked = options.qnn_context_binary_vtcm
    if maximum is None:
        raise InternalError(f"device profile {profile.path} has an HTP but no vtcm_mb")
    if asked == 0:
        return maximum, [f"VTCM: the {profile.part_number} maximum, {maximum} MB"]
    if asked <= maximum:
        return asked, []
    if "qnn_context_binary_vtcm" in options.given:
        raise UserError(
            f"--qnn_context_binary_vtcm {asked}: {profile.name} ({profile.part_number}) has "
            f"{maximum} MB of VTCM; give at most {maximum} (0 means the maximum)"
        )
    # The cloud service's default (4 MB) exceeds small SoCs' VTCM; its maximum is the closest fit.
    return maximum, [
        f"VTCM: default 4 MB exceeds the {profile.part_number}'s {maximum} MB; using {maximum} MB"
    ]


@dataclass(frozen=True)
class ContextBinary:
    """A generated binary, its EPContext wrapper and what the QNN EP was really given."""

    path: Path
    context_model: Path
    settings: dict[str, str]
    graphs: list[dict[str, Any]]
    soc_config: dict[str, str]
    versions: dict[str, str]  # of the runtime that built it (onnxruntime, QNN SDK)


def generate(model: Path, target: QnnTarget, outdir: Path) -> ContextBinary:
    """Build the QNN context binary of ``model`` for ``target`` in ``outdir``.

    The session runs where this host's agent runs (``_runtime.py``: the managed
    runtime by default), so the binary comes from the QNN SDK the agents run.

    Raises:
        UserError: QNN could not prepare the graph, or left nodes outside the binary
            (the message names their op types).
        InternalError: onnxruntime-qnn is missing, or the binary cannot be read back.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    context_model = outdir / f"{model.stem}_ctx.onnx"
    for stale in [context_model, *outdir.glob(f"{model.stem}_ctx*.bin")]:
        stale.unlink(missing_ok=True)  # ORT refuses to overwrite an existing context model
    result = _runtime.generate_context(model, target.provider_options(), context_model)
    _raise_for(result, target)
    binary = outdir / _binary_name(context_model, target)
    if binary.name not in result["binaries"]:
        raise InternalError(f"{binary}: the generated context binary was not read back")
    graphs = result["binaries"][binary.name]
    return ContextBinary(
        binary, context_model, result["settings"], graphs, embedded_soc_config(binary),
        result["versions"],
    )  # fmt: skip


def _raise_for(result: dict[str, Any], target: QnnTarget) -> None:
    error, message = result.get("error"), result.get("message", "")
    if error == "rejected":
        raise UserError(f"QNN could not prepare the model for {target.label}: {message}")
    if error == "missing":
        raise InternalError(f"cannot build QNN context binaries on this host: {message}")
    if error is not None:
        raise InternalError(f"the generated context binary cannot be read: {message}")


def _binary_name(context_model: Path, target: QnnTarget) -> str:
    """The ``.bin`` the single EPContext node names; an error if QNN left nodes out."""
    if not context_model.is_file():
        raise UserError(
            f"QNN ({target.label}) took none of the model's nodes: nothing to put in a "
            "context binary"
        )
    graph = onnx.load(str(context_model), load_external_data=False).graph
    contexts = [node for node in graph.node if node.op_type == "EPContext"]
    left = [node for node in graph.node if node.op_type != "EPContext"]
    if left:
        raise UserError(_rejected_message(left, target))
    if len(contexts) != 1:
        raise UserError(
            f"QNN ({target.label}) split the model into {len(contexts)} graphs; expected one"
        )
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in contexts[0].attribute}
    name = attributes.get("ep_cache_context", b"")
    return name.decode() if isinstance(name, bytes) else str(name)


def _rejected_message(left: list[onnx.NodeProto], target: QnnTarget) -> str:
    op_types = sorted({node.op_type for node in left})
    names = [node.name or node.op_type for node in left]
    shown = ", ".join(names[:_NAMES_SHOWN]) + (", ..." if len(names) > _NAMES_SHOWN else "")
    return (
        f"QNN's HTP backend ({target.label}) rejected {len(left)} node(s) of op type(s) "
        f"{', '.join(op_types)} (nodes: {shown}); a context binary must hold the whole graph "
        "and these would be left for the CPU. Replace or remove these ops"
        + ("" if target.fp16 else ", or check that the model is fully quantized")
    )


_SOC_CONFIG = re.compile(rb"(?:^|;|\t)(soc_type|arch|vtcm_size|hvx_threads|OpO)=([^;\x00]*)")


def embedded_soc_config(binary: Path) -> dict[str, str]:
    """The settings QNN's HTP backend writes into a context binary, as text.

    ``soc_type=SM8550;arch=73;vtcm_size=2097152;hvx_threads=4`` and ``OpO=3``, the graph
    optimization level (it follows ``htp_graph_finalization_optimization_mode``; seen on
    QNN 2.51). Undocumented, so best effort: keys that are not found are left out.
    """
    with (
        binary.open("rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
    ):
        found = {
            key.decode(): value.decode(errors="replace") for key, value in _SOC_CONFIG.findall(data)
        }
    return found
