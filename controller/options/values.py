"""Values: text -> typed value per ``Kind``, and typed value -> canonical text.

The grammar of one value (``parse_text``) is shared with the agent, which
re-checks the canonical text it receives with it (``contract/option_spec.py``);
this module adds what the user sees: where the value was written and the
nearest valid choice. ``parse_value`` and ``format_value`` are inverses on valid
input; the round-trip tests hold them to it. Canonical text is also what the
device agent receives (``"true"``, ``"4"``, ``"kHtpBurst"``).
"""

from __future__ import annotations

from collections.abc import Mapping

from contract.option_spec import FALSE, TRUE, ValueProblem, allowed_text, parse_text
from controller.errors import InternalError
from controller.options.errors import OptionError, nearest
from controller.options.spec import Kind, OptionSpec, Spec, SubValue, Value
from controller.options.table import OPTIONS

__all__ = ["allowed_text", "format_value", "parse_sub_options", "parse_value"]


def parse_value(spec: Spec, raw: str, where: str) -> SubValue:
    """Typed value of ``raw`` for a non-sub-option ``spec``; ``where`` names it in errors.

    Raises:
        OptionError: naming ``where``, the bad text and what is allowed.

    Example:
        >>> from controller.options.table import OPTIONS_BY_NAME
        >>> parse_value(OPTIONS_BY_NAME["compute_unit"], "cpu,npu", "--compute_unit")
        ('npu', 'cpu')
    """
    if spec.kind is Kind.SUB_OPTIONS:
        raise InternalError(f"{where}: sub-option lists are parsed by parse_sub_options")
    try:
        return parse_text(spec, raw)
    except ValueProblem as exc:
        guess = nearest(exc.text, spec.choices) if exc.bad_choice else None
        raise OptionError(
            exc.problem,
            option=where,
            value=exc.text,
            allowed=exc.allowed,
            suggestion=f"'{guess}'" if guess else None,
        ) from exc


def parse_sub_options(spec: OptionSpec, raw: str) -> dict[str, SubValue]:
    """``"a=1;b=true"`` -> typed values, checked against ``spec``'s sub-tables.

    Blank entries (``"a=1;"``) are skipped: a trailing semicolon is harmless
    and common in pasted scripts. An entirely empty list is an error.

    Example:
        >>> from controller.options.table import OPTIONS_BY_NAME
        >>> parse_sub_options(OPTIONS_BY_NAME["tflite_options"], "number_of_threads=4;")
        {'number_of_threads': 4}
    """
    where = f"--{spec.name}"
    known = spec.sub_options()
    parsed: dict[str, SubValue] = {}
    entries = [entry.strip() for entry in raw.split(";") if entry.strip()]
    if not entries:
        raise OptionError(
            "empty sub-option list", option=where, value=raw, allowed=allowed_text(spec)
        )
    for entry in entries:
        key, sep, text = (part.strip() for part in entry.partition("="))
        if key not in known:
            raise _unknown_sub_option(spec, key, entry)
        sub_where = f"{where} {key}"
        if not sep:
            raise OptionError(
                "needs a value",
                option=sub_where,
                value=entry,
                allowed=f"{key}={known[key].metavar}",
            )
        if key in parsed:
            raise OptionError("sub-option given more than once", option=sub_where, value=entry)
        parsed[key] = parse_value(known[key], text, sub_where)
    return parsed


def _unknown_sub_option(spec: OptionSpec, key: str, entry: str) -> OptionError:
    # A key from the other list (QNN options in --tflite_options) is a common
    # mix-up between two similar tables; naming the right list fixes it at once.
    owner = next((o.name for o in OPTIONS if key in o.sub_options() and o is not spec), None)
    problem = f"unknown sub-option '{key}'"
    if owner:
        problem += f" ({key} belongs to --{owner})"
    guess = None if owner else nearest(key, spec.sub_options())
    return OptionError(
        problem, option=f"--{spec.name}", value=entry, suggestion=f"'{guess}'" if guess else None
    )


def format_value(spec: Spec, value: Value) -> str:
    """Canonical text of a typed value; ``parse_value`` reads it back unchanged.

    Example:
        >>> from controller.options.table import OPTIONS_BY_NAME
        >>> format_value(OPTIONS_BY_NAME["max_profiler_time"], 30.0)
        '30.0'
    """
    if isinstance(value, Mapping):
        subs = spec.sub_options() if isinstance(spec, OptionSpec) else {}
        order = list(subs)
        keys = sorted(value, key=order.index)
        return ";".join(f"{key}={format_value(subs[key], value[key])}" for key in keys)
    if isinstance(value, bool):
        return TRUE if value else FALSE
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)
