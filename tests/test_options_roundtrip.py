"""Property tests: canonical strings and generated token streams round-trip.

Values are generated from the table's declared kinds and ranges, then built
into ``Options`` directly (``build_options``) so that the parser is checked
against values it did not produce.
"""

from __future__ import annotations

import contextlib
import json
import random
import shlex
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.errors import UserError
from controller.options import JOBS, RUNTIMES, Options, parse_options
from controller.options.model import build_options
from controller.options.spec import Kind, OptionSpec, Spec
from controller.options.table import COMPILE_SUB_OPTIONS, OPTIONS

# Names may hold anything but the list separators; surrounding blanks are
# trimmed by the parser, so generated names have none.
_NAME_CHARS = st.characters(blacklist_characters=",;", blacklist_categories=("Cs", "Cc"))
NAMES = st.text(_NAME_CHARS, min_size=1, max_size=12).filter(lambda s: s == s.strip() and s)
_SUB_NAME_CHARS = st.characters(blacklist_characters=",;=", blacklist_categories=("Cs", "Cc"))
SUB_NAMES = st.text(_SUB_NAME_CHARS, min_size=1, max_size=8).filter(lambda s: s == s.strip() and s)


def _number(spec: Spec) -> st.SearchStrategy[Any]:
    rng = spec.value_range
    low = None if rng is None or rng.low is None else rng.low
    high = None if rng is None or rng.high is None else rng.high
    if spec.kind is Kind.FLOAT:
        exclude = bool(rng and rng.low_open)
        return st.floats(low, high, exclude_min=exclude, allow_nan=False, allow_infinity=False)
    lo = None if low is None else int(low) + int(bool(rng and rng.low_open))
    ints = st.integers(lo, None if high is None else int(high))
    return st.one_of(ints, *(st.just(v) for v in rng.also)) if rng and rng.also else ints


def _enum_list(spec: Spec) -> st.SearchStrategy[tuple[str, ...]]:
    if not spec.unordered:
        return st.lists(st.sampled_from(spec.choices), min_size=1, unique=True).map(tuple)
    units = [c for c in spec.choices if c != "all"]
    some = st.sets(st.sampled_from(units), min_size=1).map(
        lambda s: tuple(sorted(s, key=spec.choices.index))
    )
    return st.one_of(st.just(("all",)), some)


def value_strategy(spec: Spec, sub: bool = False) -> st.SearchStrategy[Any]:
    """Valid typed values for ``spec``, read from its declared kind and range."""
    if spec.kind in (Kind.FLAG, Kind.BOOL):
        return st.booleans()
    if spec.kind in (Kind.INT, Kind.FLOAT):
        return _number(spec)
    if spec.kind is Kind.ENUM:
        return st.sampled_from(spec.choices)
    if spec.kind is Kind.ENUM_LIST:
        return _enum_list(spec)
    if spec.kind is Kind.NAME_LIST:
        return st.lists(SUB_NAMES if sub else NAMES, min_size=1, max_size=4, unique=True).map(tuple)
    assert isinstance(spec, OptionSpec)
    optional = {name: value_strategy(s, sub=True) for name, s in spec.sub_options().items()}
    return st.fixed_dictionaries({}, optional=optional).filter(bool)  # type: ignore[arg-type]


def _repair(values: dict[str, Any], job: str) -> dict[str, Any]:
    """Make generated values obey the cloud service's rules between options."""
    for parent, names in COMPILE_SUB_OPTIONS.items():
        if job == "compile" and parent in values:  # a compile job takes only these
            kept = {k: v for k, v in values[parent].items() if k in names}
            values[parent] = kept
            if not kept:
                del values[parent]
    if "quantize_io_type" in values and not (
        values.get("quantize_io") is True and values.get("quantize_full_type") in (None, "int8")
    ):
        del values["quantize_io_type"]
    if "force_channel_last_output" in values:
        names = values.get("output_names") or ("output_0", "output_1", "output_2")
        values["force_channel_last_output"] = tuple(
            names[: len(values["force_channel_last_output"])]
        )
    qnn = values.get("qnn_options")
    if qnn and "default_graph_htp_optimization_value" in qnn:
        qnn["default_graph_htp_optimization_type"] = "FINALIZE_OPTIMIZATION_FLAG"
    return values


@st.composite
def generated(draw: st.DrawFn) -> tuple[Options, str, int | None]:
    """(Options, the runtime the caller passes, output_count) for any valid job."""
    job = draw(st.sampled_from(JOBS))
    caller_runtime = draw(st.sampled_from(RUNTIMES))
    override = draw(st.none() | st.sampled_from(RUNTIMES)) if job == "compile" else None
    runtime = override or caller_runtime
    applicable = {
        spec.name: value_strategy(spec)
        for spec in OPTIONS
        if job in spec.jobs and runtime in spec.runtimes and spec.name != "target_runtime"
    }
    values = draw(st.fixed_dictionaries({}, optional=applicable))  # type: ignore[arg-type]
    if override:
        values["target_runtime"] = override
    values = _repair(values, job)
    output_count = len(values["output_names"]) if "output_names" in values else None
    return build_options(job, runtime, values), caller_runtime, output_count


@settings(max_examples=300, deadline=None)
@given(generated())
def test_canonical_string_round_trips(case: tuple[Options, str, int | None]) -> None:
    opts, caller_runtime, output_count = case
    for form in (opts.to_option_string(), opts.to_option_tokens()):
        parsed = parse_options(
            form, job=opts.job, target_runtime=caller_runtime, output_count=output_count
        )
        assert parsed == opts
        assert parsed.to_option_string() == opts.to_option_string()


@settings(max_examples=300, deadline=None)
@given(generated())
def test_stored_canonical_form_round_trips_through_json(
    case: tuple[Options, str, int | None],
) -> None:
    # What a job stores at submit (as JSON in the store) gives back the same options.
    opts, _, _ = case
    stored = json.loads(json.dumps(opts.to_spec()))
    rebuilt = Options.from_spec(stored)
    assert rebuilt == opts
    assert rebuilt.tflite_options_wire() == opts.tflite_options_wire()
    assert rebuilt.qnn_options_wire() == opts.qnn_options_wire()


def _write_value(spec: OptionSpec, value: Any, rnd: random.Random) -> str:
    """Any accepted spelling of ``value``: bool case, list order, sub-option order."""
    if isinstance(value, bool):
        text = "true" if value else "false"
        return rnd.choice([text, text.upper(), text.capitalize()])
    if isinstance(value, tuple) and spec.unordered:
        value = tuple(rnd.sample(value, len(value)))
    if isinstance(value, dict):
        subs = spec.sub_options()
        items = [f"{k}={_write_sub(subs[k], v, rnd)}" for k, v in value.items()]
        rnd.shuffle(items)
        return ";".join(items) + rnd.choice(["", ";"])
    if isinstance(value, tuple):
        return ",".join(value)
    return repr(value) if isinstance(value, float) else str(value)


def _write_sub(spec: Spec, value: Any, rnd: random.Random) -> str:
    if isinstance(value, bool):
        return rnd.choice(["true", "True", "TRUE"]) if value else rnd.choice(["false", "FALSE"])
    return ",".join(value) if isinstance(value, tuple) else str(value)


def _write_option(spec: OptionSpec, value: Any, rnd: random.Random) -> list[str]:
    """One option as tokens, in a randomly chosen accepted form."""
    if spec.kind is Kind.FLAG and value is True and rnd.random() < 0.5:
        return [f"--{spec.name}"]  # bare flag
    text = _write_value(spec, value, rnd)
    if text.startswith("--") or rnd.random() < 0.5:
        return [f"--{spec.name}={text}"]
    return [f"--{spec.name}", text]


@settings(max_examples=300, deadline=None)
@given(generated(), st.randoms(use_true_random=False))
def test_generated_token_streams_parse(
    case: tuple[Options, str, int | None], rnd: random.Random
) -> None:
    opts, caller_runtime, output_count = case
    specs = [spec for spec in OPTIONS if spec.name in opts.given]
    rnd.shuffle(specs)  # order between options never matters
    tokens: list[str] = []
    for spec in specs:
        value = opts.target_runtime if spec.name == "target_runtime" else getattr(opts, spec.name)
        if isinstance(value, Mapping):
            value = dict(value)
        tokens += _write_option(spec, value, rnd)
    for form in (tokens, shlex.join(tokens)):
        parsed = parse_options(
            form, job=opts.job, target_runtime=caller_runtime, output_count=output_count
        )
        assert parsed == opts


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.sampled_from(JOBS), st.sampled_from(RUNTIMES))
def test_any_text_parses_or_raises_user_error(text: str, job: Any, runtime: str) -> None:
    with contextlib.suppress(UserError):
        parse_options(text, job=job, target_runtime=runtime)


_FRAGMENTS = st.sampled_from(
    [f"--{spec.name}" for spec in OPTIONS]
    + ["true", "false", "npu,cpu", "0", "-1", "600", "1e9", "a,b", "x=1", "", "=", "--", ";"]
    + ["number_of_threads=4", "context_priority=HIGH", "qnn", "onnx", "int8"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS | st.text(max_size=8), max_size=8), st.sampled_from(JOBS))
def test_any_token_stream_parses_or_raises_user_error(tokens: list[str], job: Any) -> None:
    glued = [a + b for a, b in zip(tokens, tokens[1:], strict=False)][:2]
    for form in (tokens, tokens[:1] + glued):
        try:
            opts = parse_options(form, job=job, target_runtime="tflite")
        except UserError:
            continue
        assert parse_options(opts.to_option_string(), job=job, target_runtime="tflite") == opts
