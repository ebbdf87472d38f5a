"""The shared sub-option tables and the agent's mappings onto its runtimes.

Sub-options are declared once (``contract/option_tables.py``); each runtime path
adds only its own half, by name. These tests hold every path to the whole
table: each sub-option has a mapping there, or an explicit "no equivalent"
entry that turns into a warning naming it when set.

Paths: LiteRT (``--tflite_options``: delegate keys, general settings, no
equivalent) and the ONNX Runtime QNN EP (``--qnn_options``: provider option,
implicit, context-binary graph selection, no equivalent).
"""

from __future__ import annotations

import dataclasses
import doctest
import subprocess
import sys

import pytest

import contract.option_spec
from agent.errors import InvalidOptionError
from agent.runtimes.litert_delegates import (
    DELEGATE_KEYS,
    GENERAL_SETTINGS,
    KEYS_BY_OPTION,
    NO_EQUIVALENT,
    GeneralOptions,
    general_settings,
    no_equivalent_warnings,
)
from agent.runtimes.qnn_ep import GPU, HTP, QnnBackend
from agent.runtimes.qnn_ep_options import QNN_OPTIONS, OptionKind, QnnOptionPlan, map_qnn_options
from agent.sub_options import parse_qnn_options, parse_tflite_options
from contract.option_spec import Kind, Spec, SubValue, parse_wire_options
from contract.option_tables import QNN_SUB_OPTIONS, TFLITE_GENERAL, TFLITE_SUB_OPTIONS
from controller.options.table import OPTIONS_BY_NAME
from controller.options.values import format_value


def example(spec: Spec) -> SubValue:
    """A valid typed value of ``spec``, other than its default where one exists."""
    if spec.kind is Kind.BOOL:
        return spec.default is not True
    if spec.kind is Kind.ENUM:
        return next((c for c in spec.choices if c != spec.default), spec.choices[0])
    if spec.kind is Kind.INT:
        return 2  # every integer sub-option accepts 2 (checked by the parse below)
    assert spec.kind is Kind.NAME_LIST, spec.name
    return ("graph_a", "graph_b")


def wire(spec: Spec, value: SubValue) -> str:
    """The canonical text the controller sends for ``value``."""
    return format_value(spec, value)


# ------------------------------------------------------------ one declaration


def test_the_controller_reads_the_shared_tables() -> None:
    assert OPTIONS_BY_NAME["tflite_options"].sub_options() == TFLITE_SUB_OPTIONS
    assert OPTIONS_BY_NAME["qnn_options"].sub_options() == QNN_SUB_OPTIONS


def test_the_shared_modules_import_no_controller_and_nothing_heavy() -> None:
    # The agent imports them in the device's process: no controller, no runtimes.
    code = (
        "import sys, contract.option_tables, contract.option_spec; "
        "heavy = {'controller', 'numpy', 'onnxruntime', 'ai_edge_litert', 'grpc'}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_shared_docstring_examples_run() -> None:
    assert doctest.testmod(contract.option_spec).failed == 0


@pytest.mark.parametrize("spec", [*TFLITE_SUB_OPTIONS.values(), *QNN_SUB_OPTIONS.values()],
                         ids=lambda s: s.name)  # fmt: skip
def test_what_the_controller_sends_the_agent_reads_back(spec: Spec) -> None:
    table = TFLITE_SUB_OPTIONS if spec.name in TFLITE_SUB_OPTIONS else QNN_SUB_OPTIONS
    values = [example(spec)] + ([spec.default] if spec.default is not None else [])
    for value in values:
        received = parse_wire_options(table, {spec.name: wire(spec, value)}, "--x")
        assert received == {spec.name: value}


# ------------------------------------------------------------- LiteRT path


def test_every_tflite_sub_option_has_exactly_one_litert_entry() -> None:
    entries = [set(KEYS_BY_OPTION), set(GENERAL_SETTINGS), set(NO_EQUIVALENT)]
    for name in TFLITE_SUB_OPTIONS:
        assert sum(name in entry for entry in entries) == 1, name
    assert set().union(*entries) == set(TFLITE_SUB_OPTIONS)
    assert len(DELEGATE_KEYS) == len(KEYS_BY_OPTION)  # one row per sub-option


def test_delegate_enum_numbers_cover_exactly_the_choices() -> None:
    for row in DELEGATE_KEYS:
        spec = TFLITE_SUB_OPTIONS[row.option]
        if spec.kind is Kind.ENUM:
            assert row.numbers is not None and set(row.numbers) == set(spec.choices), row.option
            assert len(set(row.numbers.values())) == len(spec.choices), row.option
        else:
            assert row.numbers is None, row.option


def test_delegate_keys_convert_every_value_the_table_allows() -> None:
    for row in DELEGATE_KEYS:
        spec = TFLITE_SUB_OPTIONS[row.option]
        values = spec.choices or (example(spec),)
        assert all(row.convert(value).lstrip("-").isdigit() for value in values), row.option


def test_general_options_fields_are_the_general_table() -> None:
    fields = [f.name for f in dataclasses.fields(GeneralOptions) if f.name != "given"]
    assert fields == [spec.name for spec in TFLITE_GENERAL.options]
    defaults = GeneralOptions.from_values()
    assert all(getattr(defaults, s.name) == s.default for s in TFLITE_GENERAL.options)


def test_general_settings_record_each_applied_option() -> None:
    given = parse_tflite_options({"number_of_threads": "-1", "force_opengl": "true"})
    general = GeneralOptions.from_values(given.values)
    settings = general_settings(general, threads=3)
    assert set(settings) == set(GENERAL_SETTINGS.values())
    assert settings["num_threads"] == "3" and settings["force_opengl"] == "true"


@pytest.mark.parametrize("name", sorted(NO_EQUIVALENT))
def test_litert_no_equivalent_is_a_named_warning(name: str) -> None:
    spec = TFLITE_SUB_OPTIONS[name]
    [warning] = no_equivalent_warnings({name: example(spec)})
    assert warning.startswith(f"{name}={wire(spec, example(spec))} not applied: ")
    # Asking for the default asks for what LiteRT does anyway: nothing to warn about.
    assert no_equivalent_warnings({name: spec.default}) == []  # type: ignore[dict-item]


def test_litert_rejects_what_the_table_rejects() -> None:
    with pytest.raises(InvalidOptionError, match="number_of_threads='0'.*-1 or >= 1"):
        parse_tflite_options({"number_of_threads": "0"})
    with pytest.raises(InvalidOptionError, match="unknown --tflite_options sub-option.*: bogus"):
        parse_tflite_options({"bogus": "1"})


# -------------------------------------------------------------- QNN EP path


def qnn_plan(options: dict[str, str], backend: QnnBackend | None) -> QnnOptionPlan:
    """``--qnn_options`` as the agent receives them, parsed and mapped for ``backend``."""
    return map_qnn_options(parse_qnn_options(options), backend)


def test_every_qnn_sub_option_has_a_qnn_ep_rule_in_table_order() -> None:
    assert list(QNN_OPTIONS) == list(QNN_SUB_OPTIONS)


def test_qnn_provider_rules_have_a_key_and_the_others_say_why() -> None:
    for name, rule in QNN_OPTIONS.items():
        if rule.kind is OptionKind.PROVIDER:
            assert rule.provider_key, name
        else:
            assert rule.note and not rule.provider_key, name


@pytest.mark.parametrize(
    "name", [n for n, r in QNN_OPTIONS.items() if r.kind is OptionKind.NO_EQUIVALENT]
)
def test_qnn_ep_no_equivalent_is_a_named_warning(name: str) -> None:
    spec = QNN_SUB_OPTIONS[name]
    text = wire(spec, example(spec))
    for backend in (HTP, GPU, None):
        plan = qnn_plan({name: text}, backend)
        # Only the cloud service's default HTP performance mode, applied when not given.
        assert plan.provider_options == (
            {"htp_performance_mode": "burst"} if backend is HTP else {}
        )
        assert [w.split(" not applied: ")[0] for w in plan.warnings] == [
            f"qnn_options {name}={text}"
        ]


@pytest.mark.parametrize(
    "name", [n for n, r in QNN_OPTIONS.items() if r.kind is OptionKind.PROVIDER]
)
def test_qnn_provider_options_reach_the_plan_for_every_allowed_value(name: str) -> None:
    spec = QNN_SUB_OPTIONS[name]
    for value in spec.choices or (example(spec),):
        plan = qnn_plan({name: wire(spec, value)}, HTP)
        # beside the cloud service's default performance mode, which is applied when not given
        keys = set(plan.provider_options) - (
            {"htp_performance_mode"} - {QNN_OPTIONS[name].provider_key}
        )
        assert keys == {QNN_OPTIONS[name].provider_key}, value
        assert plan.warnings == []


def test_qnn_ep_rejects_what_the_table_rejects() -> None:
    with pytest.raises(InvalidOptionError, match="context_htp_performance_mode='burst'"):
        qnn_plan({"context_htp_performance_mode": "burst"}, HTP)
    with pytest.raises(InvalidOptionError, match="default_graph_htp_optimization_value='4'"):
        qnn_plan({"default_graph_htp_optimization_value": "4"}, HTP)


def test_seed_default_htp_performance_mode_is_applied_unless_given() -> None:
    assert qnn_plan({}, HTP).provider_options == {"htp_performance_mode": "burst"}
    given = qnn_plan({"context_htp_performance_mode": "BALANCED"}, HTP)
    assert given.provider_options == {"htp_performance_mode": "balanced"}
    assert qnn_plan({}, GPU).provider_options == {}
