"""THE model formats: each format's type name, file suffix, and the runtime that runs it.

Shared by both sides, like ``contract/option_tables.py``: the agent never imports the
controller, so the facts both need live in ``contract/`` (the agent zip carries it,
``controller/agent_bundle.py``). Everything else is derived from ``FORMATS``: the
controller's suffix -> target runtime table (``controller/options/table.py``), the
suffix a stored model is pushed under (``controller/model_files.py``), the compile
targets (``controller/compile/_source.py``), the cloud client's runnable types
(``controller/managed.py``) and which agent runtime loads a model
(``agent/runtimes/__init__.py``: from the job's ``model_type``, or, from an older
controller that sends none, from the file name's suffix). Controller-only knowledge
(host-side content checks, I/O readers) is keyed by ``model_type`` next to its code,
and ``tests/test_formats.py`` fails until every runnable format has both.

To add a format: one ``ModelFormat`` here; to add a runtime: its module under
``agent/runtimes/`` (a class with the ``Runtime`` interface of
``agent/runtimes/base.py``), one line in ``agent/runtimes/__init__._MODULES``, and the
formats it loads here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelFormat:
    """One model format, as both sides name it.

    Attributes:
        model_type: the stored model type and the ``--target_runtime`` that means it
            (the cloud client's ``SourceModelType`` value).
        suffix: the file suffix a model of this type is stored and pushed under.
        runnable: whether a profile or inference job takes it (else compile only).
        agent_runtime: the in-process agent runtime that loads it, or None where none
            does: a compile source, or a QNN model library (``.so``), which only the
            vendor tool ``qnn-net-run`` runs (``agent/runtimes/vendor/jobs.py``).
    """

    model_type: str
    suffix: str
    runnable: bool
    agent_runtime: str | None = None


#: Every format, in the order error messages and OPTIONS.md list them.
FORMATS: tuple[ModelFormat, ...] = (
    ModelFormat("tflite", ".tflite", runnable=True, agent_runtime="litert"),
    ModelFormat("onnx", ".onnx", runnable=True, agent_runtime="onnxruntime"),
    # A QNN context binary runs through ONNX Runtime's QNN EP (an EPContext wrapper).
    ModelFormat("qnn_context_binary", ".bin", runnable=True, agent_runtime="onnxruntime"),
    ModelFormat("qnn_lib_aarch64_android", ".so", runnable=True),
    # PyTorch sources: compile jobs take them; nothing runs them.
    ModelFormat("torchscript", ".pt", runnable=False),
    ModelFormat("torch_exported_program", ".pt2", runnable=False),
)

_BY_TYPE = {fmt.model_type: fmt for fmt in FORMATS}
_BY_SUFFIX = {fmt.suffix: fmt for fmt in FORMATS}


def format_of_type(model_type: str) -> ModelFormat | None:
    """The format whose type is ``model_type``, or None.

    Example:
        >>> format_of_type("qnn_context_binary").suffix
        '.bin'
    """
    return _BY_TYPE.get(model_type)


def format_of_suffix(suffix: str) -> ModelFormat | None:
    """The format stored under ``suffix`` (any case), or None.

    Example:
        >>> format_of_suffix(".TFLITE").model_type
        'tflite'
    """
    return _BY_SUFFIX.get(suffix.lower())


def suffix_of_type(model_type: str) -> str:
    """The suffix of ``model_type``; "" for a type no format has."""
    fmt = _BY_TYPE.get(model_type)
    return fmt.suffix if fmt else ""


def types_of_runtime(runtime: str) -> tuple[str, ...]:
    """The model types the agent runtime ``runtime`` loads.

    Example:
        >>> types_of_runtime("onnxruntime")
        ('onnx', 'qnn_context_binary')
    """
    return tuple(fmt.model_type for fmt in FORMATS if fmt.agent_runtime == runtime)


def suffixes_of_runtime(runtime: str) -> tuple[str, ...]:
    """The suffixes the agent runtime ``runtime`` loads.

    Example:
        >>> suffixes_of_runtime("onnxruntime")
        ('.onnx', '.bin')
    """
    return tuple(fmt.suffix for fmt in FORMATS if fmt.agent_runtime == runtime)
