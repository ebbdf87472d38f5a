"""Which target runtime a model file means (the ``target_runtime`` to parse with)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import PurePath

from controller.errors import UserError
from controller.options.table import COMPILE_DEFAULT_TARGETS, MODEL_RUNTIMES


def _suffix(path_or_suffix: str | os.PathLike[str]) -> str:
    name = PurePath(os.fspath(path_or_suffix)).name
    if name.startswith(".") and name.count(".") == 1:
        return name.lower()  # a bare suffix such as ".onnx"
    # Case-insensitive: MODEL.TFLITE is still a TFLite model.
    return PurePath(name).suffix.lower()


def _lookup(path_or_suffix: str | os.PathLike[str], table: Mapping[str, str], what: str) -> str:
    suffix = _suffix(path_or_suffix)
    if suffix in table:
        return table[suffix]
    shown = os.fspath(path_or_suffix)
    raise UserError(
        f"{shown}: unknown model file extension {suffix or '(none)'!r} for {what}; "
        f"accepted: {', '.join(table)}"
    )


def target_runtime_for_model(path_or_suffix: str | os.PathLike[str]) -> str:
    """Target runtime of a model given to a profile or inference job.

    Raises:
        UserError: naming the file and the accepted extensions.

    Example:
        >>> target_runtime_for_model("models/mobilenet.tflite")
        'tflite'
        >>> target_runtime_for_model(".bin")
        'qnn_context_binary'
    """
    return _lookup(path_or_suffix, MODEL_RUNTIMES, "a profile or inference job")


def default_compile_target(path_or_suffix: str | os.PathLike[str]) -> str:
    """Default ``--target_runtime`` of a compile job, from the source model.

    Raises:
        UserError: naming the file and the accepted extensions.

    Example:
        >>> default_compile_target("resnet.aimet_pt")
        'qnn_lib_aarch64_android'
        >>> default_compile_target(".onnx")
        'tflite'
    """
    return _lookup(path_or_suffix, COMPILE_DEFAULT_TARGETS, "a compile job")
