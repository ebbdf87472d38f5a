"""Checks that need more than one value: job kind, target runtime, requirements.

Every rule comes from the table (``OptionSpec.jobs``, ``.runtimes``,
``.requires``); this module only applies them, in the order that gives the
most useful first error: a misplaced option is reported before its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controller.options.errors import OptionError
from controller.options.grammar import RawOption
from controller.options.spec import RUNTIMES, OptionSpec, Spec, SubValue, Value


def check_unique(raw: Iterable[RawOption]) -> None:
    """Reject an option given twice: which one should win is a guess we will not make."""
    seen: dict[str, RawOption] = {}
    for option in raw:
        if option.name in seen:
            first, again = _shown(seen[option.name]), _shown(option)
            raise OptionError(
                f"given more than once ('{first}' and '{again}')", option=f"--{option.name}"
            )
        seen[option.name] = option


def _shown(option: RawOption) -> str:
    return f"--{option.name}" if option.value is None else f"--{option.name} {option.value}"


def check_job(spec: OptionSpec, job: str) -> None:
    """Reject an option that the cloud service lists for other job kinds only."""
    if job not in spec.jobs:
        kinds = " and ".join(j for j in ("compile", "profile", "inference") if j in spec.jobs)
        article = "an" if job[0] in "aeiou" else "a"
        raise OptionError(
            f"only {kinds} jobs accept this option; this is {article} {job} job",
            option=f"--{spec.name}",
        )


def check_runtime(spec: OptionSpec, job: str, runtime: str) -> None:
    """Reject an option that does not apply to the job's target runtime."""
    if runtime not in spec.runtimes:
        raise OptionError(
            f"not available for target runtime {runtime}: this option {spec.rule()}",
            option=f"--{spec.name}",
        )


def check_target_runtime(runtime: str) -> None:
    """The caller-supplied runtime must be one of the cloud service's four."""
    if runtime not in RUNTIMES:
        raise OptionError(
            f"unknown target runtime '{runtime}'",
            option="target_runtime",
            value=runtime,
            allowed=", ".join(RUNTIMES),
        )


def check_requirements(
    specs: Mapping[str, Spec],
    given: Mapping[str, Value],
    output_count: int | None,
    parent: str = "",
) -> None:
    """Apply each given option's ``requires`` rules; ``parent`` names a sub-option list.

    Example:
        >>> from controller.options.table import OPTIONS_BY_NAME
        >>> given = {"quantize_io_type": "int8"}
        >>> check_requirements(OPTIONS_BY_NAME, given, None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        controller.options.errors.OptionError: --quantize_io_type: needs --quantize_io as well ...
    """
    prefix = "" if parent else "--"
    for name, value in given.items():
        spec = specs[name]
        where = f"--{parent} {name}" if parent else f"--{name}"
        for requirement in spec.requires:
            problem = requirement.violation(name, given, output_count, prefix)
            if problem:
                shown = f"{where} {_text(value)}" if prefix else f"{name}={_text(value)}"
                raise OptionError(f"{problem} (got {shown})", option=where, value=_text(value))


def _text(value: Value) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_sub_requirements(spec: OptionSpec, values: Mapping[str, SubValue]) -> None:
    """Requirements among the sub-options of one list (e.g. optimization value/type)."""
    check_requirements(spec.sub_options(), values, None, parent=spec.name)


def check_compile_sub_options(
    values: Mapping[str, Value], job: str, allowed: Mapping[str, tuple[str, ...]]
) -> None:
    """On a compile job, refuse sub-options that apply only when the model runs."""
    if job != "compile":
        return
    for parent, names in allowed.items():
        given = values.get(parent)
        extra = (
            [key for key in given or {} if key not in names] if isinstance(given, Mapping) else []
        )
        if extra:
            raise OptionError(
                f"{', '.join(extra)}: applies when the model runs (profile and inference jobs); "
                f"a compile job takes only {', '.join(names)}",
                option=f"--{parent}",
            )
