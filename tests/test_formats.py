"""The model format registry (contract/formats.py) is the one table both sides read."""

from __future__ import annotations

from pathlib import Path

from agent.runtimes import runtime_name_for
from contract.formats import FORMATS, format_of_suffix, format_of_type, suffixes_of_runtime
from controller.compile._source import SUFFIXES
from controller.managed import RUNNABLE_MODEL_TYPES, SourceModelType
from controller.model_files import CHECKS
from controller.model_io import READERS
from controller.options.table import MODEL_RUNTIMES, TORCH_SOURCE_TYPES


def test_every_format_has_one_type_and_one_suffix() -> None:
    assert len({f.model_type for f in FORMATS}) == len(FORMATS)
    assert len({f.suffix for f in FORMATS}) == len(FORMATS)
    for fmt in FORMATS:
        assert format_of_type(fmt.model_type) is fmt
        assert format_of_suffix(fmt.suffix.upper()) is fmt


def test_every_runnable_format_has_a_host_check_and_a_cloud_type() -> None:
    runnable = {f.model_type for f in FORMATS if f.runnable}
    assert set(CHECKS) == runnable
    assert {t.value for t in RUNNABLE_MODEL_TYPES} == runnable
    assert set(READERS) <= runnable
    assert all(SourceModelType(t) for t in runnable)


def test_the_controller_tables_are_derived_from_the_registry() -> None:
    assert {f.suffix: f.model_type for f in FORMATS if f.runnable} == MODEL_RUNTIMES
    assert set(TORCH_SOURCE_TYPES.values()) == {f.model_type for f in FORMATS if not f.runnable}
    assert {f.model_type: f.suffix for f in FORMATS if f.runnable} == SUFFIXES


def test_every_agent_runtime_named_by_a_format_is_registered_and_loads_its_suffixes() -> None:
    for fmt in FORMATS:
        if fmt.agent_runtime is not None:
            assert runtime_name_for(Path(f"model{fmt.suffix}")) == fmt.agent_runtime
    assert suffixes_of_runtime("onnxruntime") == (".onnx", ".bin")
    assert suffixes_of_runtime("litert") == (".tflite",)
