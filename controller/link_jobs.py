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
from pathlib import Path
from typing import Any

from controller.errors import UserError

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


def submit_link_job(
    models: Any,
    device: Any = None,
    name: str | None = None,
    options: str = "",
    project: Any = None,
) -> Any:
    """Link QNN DLC models into a context binary (the cloud client's ``submit_link_job``).

    Raises:
        UserError: always on this host today (see the module docstring), naming what is
            missing and the direct ``--target_runtime qnn_context_binary`` compile instead.
    """
    raise refuse_link("submit_link_job (linking QNN DLCs into a context binary)")


def submit_compile_and_link_jobs(
    model: Any,
    device: Any,
    name: str | None = None,
    input_specs: Any = None,
    compile_options: str = "",
    link_options: str = "",
    calibration_data: Any = None,
    project: Any = None,
) -> Any:
    """Compile to QNN DLC, then link (the cloud client's); refused as ``submit_link_job`` is."""
    raise refuse_link("submit_compile_and_link_jobs (compile to QNN DLC, then link)")
