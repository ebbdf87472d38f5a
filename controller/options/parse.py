"""``parse_options``: option text -> validated ``Options``, or a ``UserError``.

Runs before a job is stored, so every mistake is reported before any device
time is spent. The steps, in order of the errors they can raise: split tokens,
pair names with values (unknown names), duplicates, job kind, target runtime,
values, then rules that relate options to each other or to the model.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.errors import InternalError
from controller.options.grammar import RawOption, group_tokens, join_tokens, split_tokens
from controller.options.model import Options, build_options
from controller.options.spec import JOBS, Job, Kind, OptionSpec, Value
from controller.options.table import COMPILE_SUB_OPTIONS, OPTIONS_BY_NAME
from controller.options.validate import (
    check_compile_sub_options,
    check_job,
    check_requirements,
    check_runtime,
    check_sub_requirements,
    check_target_runtime,
    check_unique,
)
from controller.options.values import parse_sub_options, parse_value


def parse_options(
    options: str | Sequence[str] | None,
    *,
    job: Job,
    target_runtime: str,
    output_count: int | None = None,
) -> Options:
    """Parse and validate the option string of one job.

    Args:
        options: the text as the user wrote it (split like a shell would), a
            sequence of tokens already split (like ``argv``), or None.
        job: ``"compile"``, ``"profile"`` or ``"inference"``.
        target_runtime: for compile, the default derived from the source model
            (``default_compile_target``), which ``--target_runtime`` overrides;
            for profile and inference, the runtime of the model file
            (``target_runtime_for_model``).
        output_count: the model's number of outputs, when known, so that
            ``--output_names`` and ``--force_channel_last_output`` can be checked.

    Returns:
        The options, with every default applied.

    Raises:
        UserError: (an ``OptionError``) naming the option, the bad value and what
            is allowed, with the nearest valid name for a misspelled one.

    Example:
        >>> opts = parse_options("--compute_unit gpu --max_profiler_time=30",
        ...                      job="profile", target_runtime="tflite")
        >>> opts.compute_unit, opts.max_profiler_time, opts.max_profiler_iterations
        (('gpu',), 30.0, 100)
    """
    _check_call(job, output_count)
    check_target_runtime(target_runtime)
    tokens = split_tokens(options)
    raw = group_tokens(tokens, OPTIONS_BY_NAME)
    check_unique(raw)
    for option in raw:
        check_job(OPTIONS_BY_NAME[option.name], job)
    runtime = _effective_runtime(raw, target_runtime)
    for option in raw:
        check_runtime(OPTIONS_BY_NAME[option.name], job, runtime)
    values = {option.name: _parse_raw(OPTIONS_BY_NAME[option.name], option) for option in raw}
    check_requirements(OPTIONS_BY_NAME, values, output_count)
    check_compile_sub_options(values, job, COMPILE_SUB_OPTIONS)
    requested = options if isinstance(options, str) else join_tokens(tokens)
    return build_options(job, runtime, values, requested)


def _check_call(job: str, output_count: int | None) -> None:
    # These come from our own code, not from the user's text: a bad one is a bug.
    if job not in JOBS:
        raise InternalError(f"parse_options: unknown job kind {job!r}; expected one of {JOBS}")
    if output_count is not None and output_count < 1:
        raise InternalError(f"parse_options: output_count must be >= 1, got {output_count}")


def _effective_runtime(raw: Sequence[RawOption], default: str) -> str:
    """The compile target: ``--target_runtime`` when given, else the model's default."""
    for option in raw:
        if option.name == "target_runtime":
            value = _parse_raw(OPTIONS_BY_NAME["target_runtime"], option)
            assert isinstance(value, str)
            return value
    return default


def _parse_raw(spec: OptionSpec, option: RawOption) -> Value:
    if option.value is None:  # only flags reach here without a value
        return True
    if spec.kind is Kind.SUB_OPTIONS:
        subs = parse_sub_options(spec, option.value)
        check_sub_requirements(spec, subs)
        return subs
    return parse_value(spec, option.value, f"--{spec.name}")
