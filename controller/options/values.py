"""Values: text -> typed value per ``Kind``, and typed value -> canonical text.

``parse_value`` and ``format_value`` are inverses on valid input; the
round-trip tests hold them to it. Canonical text is also what the device
agent receives (``"true"``, ``"4"``, ``"kHtpBurst"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from controller.errors import InternalError
from controller.options.errors import OptionError, nearest
from controller.options.grammar import FALSE, TRUE
from controller.options.spec import Kind, OptionSpec, Spec, SubValue, Value
from controller.options.table import OPTIONS

# Plain decimal only: Python's int()/float() would also take "1_000", " 4",
# "inf" and "nan", none of which a user means as an option value.
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def allowed_text(spec: Spec) -> str:
    """What ``spec`` accepts, in words, e.g. ``"an integer from 1 to 3"``."""
    if spec.kind in (Kind.FLAG, Kind.BOOL):
        return "true or false"
    if spec.kind in (Kind.INT, Kind.FLOAT):
        noun = "an integer" if spec.kind is Kind.INT else "a number"
        bounds = spec.value_range.describe() if spec.value_range else ""
        return f"{noun} {bounds}" if bounds else noun
    if spec.kind is Kind.ENUM:
        return ", ".join(spec.choices)
    if spec.kind is Kind.ENUM_LIST:
        return f"{', '.join(spec.choices)} (comma separated, each at most once)"
    if spec.kind is Kind.NAME_LIST:
        return "comma separated names, each at most once"
    return "semicolon separated key=value sub-options"


def parse_value(spec: Spec, raw: str, where: str) -> SubValue:
    """Typed value of ``raw`` for a non-sub-option ``spec``; ``where`` names it in errors.

    Example:
        >>> from controller.options.table import OPTIONS_BY_NAME
        >>> parse_value(OPTIONS_BY_NAME["compute_unit"], "cpu,npu", "--compute_unit")
        ('npu', 'cpu')
    """
    if spec.kind in (Kind.FLAG, Kind.BOOL):
        return _parse_bool(spec, raw, where)
    if spec.kind in (Kind.INT, Kind.FLOAT):
        return _parse_number(spec, raw, where)
    if spec.kind is Kind.ENUM:
        return _parse_choice(spec, raw, where)
    if spec.kind in (Kind.ENUM_LIST, Kind.NAME_LIST):
        return _parse_list(spec, raw, where)
    raise InternalError(f"{where}: sub-option lists are parsed by parse_sub_options")


def _parse_bool(spec: Spec, raw: str, where: str) -> bool:
    if raw.lower() == TRUE:
        return True
    if raw.lower() == FALSE:
        return False
    raise OptionError(
        f"'{raw}' is not a boolean", option=where, value=raw, allowed=allowed_text(spec)
    )


def _parse_number(spec: Spec, raw: str, where: str) -> int | float:
    pattern = _INT if spec.kind is Kind.INT else _FLOAT
    if not pattern.fullmatch(raw):
        noun = "an integer" if spec.kind is Kind.INT else "a number"
        raise OptionError(
            f"'{raw}' is not {noun}", option=where, value=raw, allowed=allowed_text(spec)
        )
    number: int | float = int(raw) if spec.kind is Kind.INT else float(raw)
    if not math.isfinite(number) or (spec.value_range and not spec.value_range.contains(number)):
        raise OptionError(
            f"{raw} is out of range", option=where, value=raw, allowed=allowed_text(spec)
        )
    return number


def _parse_choice(spec: Spec, raw: str, where: str) -> str:
    if raw in spec.choices:
        return raw
    guess = nearest(raw, spec.choices)
    raise OptionError(
        f"'{raw}' is not a valid value",
        option=where,
        value=raw,
        allowed=allowed_text(spec),
        suggestion=f"'{guess}'" if guess else None,
    )


def _parse_list(spec: Spec, raw: str, where: str) -> tuple[str, ...]:
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise OptionError(
            f"empty item in list '{raw}'", option=where, value=raw, allowed=allowed_text(spec)
        )
    if spec.kind is Kind.ENUM_LIST:
        items = [_parse_choice(spec, item, where) for item in items]
    dupes = sorted({item for item in items if items.count(item) > 1})
    if dupes:
        raise OptionError(
            f"{', '.join(dupes)} given more than once in '{raw}'",
            option=where,
            value=raw,
            allowed=allowed_text(spec),
        )
    if spec.unordered:
        _check_all_alone(items, raw, where, spec)
        items.sort(key=spec.choices.index)
    return tuple(items)


def _check_all_alone(items: list[str], raw: str, where: str, spec: Spec) -> None:
    # "all" already means every unit: combined with others it reads as a typo.
    if "all" in spec.choices and "all" in items and len(items) > 1:
        raise OptionError(
            f"'all' cannot be combined with other values in '{raw}'",
            option=where,
            value=raw,
            allowed=allowed_text(spec),
        )


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
