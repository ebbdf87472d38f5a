"""``submit_link_job``: QNN DLC models linked into one QNN context binary.

The cloud service compiles to a QNN DLC (``--target_runtime qnn_dlc``) and links
DLCs into a context binary with Qualcomm's SDK tools (``qairt-converter``,
``qnn-context-binary-generator``). Those tools are not on PyPI: devicelab compiles
context binaries straight from ONNX with onnxruntime-qnn instead
(``--target_runtime qnn_context_binary``, ``controller/compile/_qnn.py``). A link job is
refused at submit, naming what is missing, before any device time is spent.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.errors import UserError
from controller.options import parse_options

if TYPE_CHECKING:
    from controller.lab import Lab

#: The SDK's host tool a link needs, under ``$QNN_SDK_ROOT``.
LINK_TOOL = Path("bin") / "x86_64-linux-clang" / "qnn-context-binary-generator"

_INSTEAD = (
    "devicelab compiles QNN context binaries directly from ONNX: compile with "
    "--target_runtime qnn_context_binary"
)


def link_tool() -> Path | None:
    """The SDK's ``qnn-context-binary-generator`` when ``QNN_SDK_ROOT`` provides it."""
    root = os.environ.get("QNN_SDK_ROOT", "")
    tool = Path(root) / LINK_TOOL
    return tool if root and tool.is_file() else None


def refuse_link(what: str) -> UserError:
    """The error for a link (or a ``qnn_dlc`` compile) this host cannot do."""
    tool = link_tool()
    if tool is None:
        where = os.environ.get("QNN_SDK_ROOT", "")
        missing = (
            f"QNN_SDK_ROOT={where} has no {LINK_TOOL}"
            if where
            else "QNN_SDK_ROOT is not set (it names the Qualcomm AI Engine Direct SDK)"
        )
        return UserError(f"{what} needs Qualcomm's QNN SDK tools: {missing}; {_INSTEAD}")
    return UserError(
        f"{what}: linking QNN DLCs with {tool} is not implemented in devicelab yet; {_INSTEAD}"
    )


def check_not_qnn_dlc(options: str) -> None:
    """Refuse ``--target_runtime qnn_dlc`` at submit, saying what it needs and what to use.

    Raises:
        UserError: the options ask for a QNN DLC (see ``refuse_link``).
    """
    try:
        tokens = shlex.split(options)
    except ValueError:
        return  # parse_options reports the quoting error with its own context
    pairs = zip(tokens, [*tokens[1:], ""], strict=False)  # (token, the one after it)
    if any(
        token == "--target_runtime=qnn_dlc" or (token, value) == ("--target_runtime", "qnn_dlc")
        for token, value in pairs
    ):
        raise refuse_link("--target_runtime qnn_dlc (a QNN DLC, made by qairt-converter)")


def submit_link_job(lab: Lab, models: Any, name: str | None = None, options: str = "") -> Any:
    """Link models into a QNN context binary (the cloud client's ``submit_link_job``).

    QNN DLCs need Qualcomm's SDK tools and are refused (see the module docstring). One
    QNN context binary that devicelab compiled (``--target_runtime qnn_context_binary``)
    is already linked: the job passes it through as its target model and says so, so
    a script written for compile(qnn_dlc) -> link runs once its compile targets
    ``qnn_context_binary``.

    Args:
        lab: the lab whose store and worker take the job.
        models: a ``Model`` or a list of them.
        name: the job's name (default: the model's).
        options: link options: only ``--qairt_version`` (recorded).

    Raises:
        UserError: DLCs or several models, another model type, or another option.
    """
    from controller.job_handles import LinkJob
    from controller.managed import Model, SourceModelType

    listed = list(models) if isinstance(models, list | tuple) else [models]
    if not listed or not all(isinstance(m, Model) for m in listed):
        raise UserError("submit_link_job takes a Model or a list of Models")
    types = {m.model_type for m in listed}
    if types != {SourceModelType.QNN_CONTEXT_BINARY} or len(listed) != 1:
        kinds = ", ".join(sorted(t.value for t in types))
        raise refuse_link(f"submit_link_job of {len(listed)} model(s) ({kinds})")
    parse_options(options, job="profile", target_runtime="qnn_context_binary")
    _check_link_options(options)
    model = listed[0]
    record = lab.queue_host_job(
        model, name, options, {"job_type": "link", "model_ids": [model.model_id]}
    )
    return lab.queued(LinkJob, record)


def _check_link_options(options: str) -> None:
    for token in shlex.split(options):
        if token.startswith("--") and token.split("=", 1)[0] != "--qairt_version":
            raise UserError(f"{token}: a link job takes only --qairt_version")


def run_link(ctx: Any, job: Any) -> None:
    """The worker's side of a link job: one context binary is its own link."""
    from controller.jobs import JobState

    job = ctx.move(job, JobState.OPTIMIZING_MODEL)  # the states a host job passes through
    ctx.store.set_result(
        job.id,
        {
            "target_model_id": job.model_id,
            "target_runtime": "qnn_context_binary",
            "notes": [PASS_THROUGH_NOTE],
            "details": {"linked": job.spec.get("model_ids", [job.model_id])},
        },
    )
    ctx.move(job, JobState.SUCCESS)


PASS_THROUGH_NOTE = (
    "nothing to link: the model is a QNN context binary devicelab compiled directly "
    "(onnxruntime-qnn), returned as the target model"
)
