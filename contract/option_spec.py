"""The vocabulary options are declared in, and the grammar of one option value.

Shared by both sides: the controller declares its option table with these
types and parses the user's text with ``parse_text``; the agent (deployed
alone, it never imports ``controller``) reads the sub-option tables of
``contract.option_tables`` and re-checks the canonical text it receives with the
same ``parse_text``, so a value can never mean one thing to the controller and
another to the device. Standard library only: this runs in the device process.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

SubValue = bool | int | float | str | tuple[str, ...]
Value = SubValue | Mapping[str, SubValue]


class Kind(enum.Enum):
    """How an option's value is written and what Python type it becomes."""

    FLAG = "flag"  # --x | --x true | --x=false           -> bool
    BOOL = "bool"  # key=true|false (sub-options)          -> bool
    INT = "int"  #                                         -> int
    FLOAT = "float"  #                                     -> float
    ENUM = "enum"  # one of the choices                    -> str
    ENUM_LIST = "enum list"  # comma list of choices       -> tuple[str, ...]
    NAME_LIST = "name list"  # comma list of free names    -> tuple[str, ...]
    SUB_OPTIONS = "sub-options"  # key=value;key=value     -> Mapping[str, SubValue]
    TEXT = "text"  # one free value without spaces (a version) -> str


@dataclass(frozen=True)
class Range:
    """An inclusive-by-default numeric range, plus isolated extra values.

    ``also`` exists for sentinels such as ``number_of_threads=-1`` (meaning
    "half the cores") that sit outside the otherwise valid range.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    also: tuple[int, ...] = ()

    def contains(self, number: float) -> bool:
        """Whether ``number`` is in the range (or one of the extra values)."""
        if number in self.also:
            return True
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            return False
        return self.high is None or number <= self.high

    def describe(self) -> str:
        """The range in words, e.g. ``"> 0 and <= 600"``, ``"-1 or >= 1"``; "" if unbounded."""
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_num(self.low)}")
        if self.high is not None:
            parts.append(f"<= {_num(self.high)}")
        if self.low is not None and self.high is not None and not self.low_open:
            parts = [f"from {_num(self.low)} to {_num(self.high)}"]
        text = " and ".join(parts)
        if self.also:
            text = " or ".join([*(str(v) for v in self.also), text])
        return text


def _num(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


class Requirement(Protocol):
    """A rule that relates an option to its siblings (or to the model)."""

    def describe(self, prefix: str) -> str:
        """The rule in words, for help text; ``prefix`` is ``"--"`` or ``""``."""
        ...

    def violation(
        self, name: str, given: Mapping[str, Value], output_count: int | None, prefix: str
    ) -> str | None:
        """Why ``given[name]`` breaks the rule, or None when it holds."""
        ...


@dataclass(frozen=True)
class Requires:
    """Only valid together with ``option`` (set to ``value`` when not None)."""

    option: str
    value: SubValue | None = None

    def describe(self, prefix: str) -> str:
        return f"only together with {self._other(prefix)}"

    def violation(
        self, name: str, given: Mapping[str, Value], output_count: int | None, prefix: str
    ) -> str | None:
        held = self.option in given and (self.value is None or given[self.option] == self.value)
        return None if held else f"needs {self._other(prefix)} as well"

    def _other(self, prefix: str) -> str:
        if self.value is None or (self.value is True and prefix):
            return f"{prefix}{self.option}"  # a flag is written bare
        shown = str(self.value).lower() if isinstance(self.value, bool) else self.value
        return f"{prefix}{self.option} {shown}" if prefix else f"{self.option}={shown}"


@dataclass(frozen=True, kw_only=True)
class Spec:
    """One option or sub-option: everything the parser and the docs know about it."""

    name: str
    kind: Kind
    help: str
    metavar: str = "<value>"
    choices: tuple[str, ...] = ()
    #: Short explanations of some choices, shown in the docs.
    choice_help: Mapping[str, str] = field(default_factory=dict)
    value_range: Range | None = None
    #: The documented default, already typed; None when the runtime or backend decides.
    default: SubValue | None = None
    #: The default in words, when a plain value would not say it (derived defaults).
    default_text: str = ""
    requires: tuple[Requirement, ...] = ()
    #: For ENUM_LIST: the documented options call the list unordered, so it is kept in table order.
    unordered: bool = False
    example: str = ""


@dataclass(frozen=True, kw_only=True)
class SubTable:
    """A table of sub-options (e.g. "TensorFlow Lite Delegate Options for GPUv2")."""

    title: str
    help: str
    options: tuple[Spec, ...]


# --------------------------------------------------------------------------------------
# The grammar of one value: text -> typed value
# --------------------------------------------------------------------------------------

#: Boolean spellings, compared case-insensitively. 1/0 and yes/no are refused:
#: the documented options take only true|false, and a stray digit is more often a typo.
TRUE, FALSE = "true", "false"

# Plain decimal only: Python's int()/float() would also take "1_000", " 4",
# "inf" and "nan", none of which a user means as an option value.
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class ValueProblem(ValueError):
    """A text that is not a valid value of a spec.

    Each side turns it into its own error (the controller's ``OptionError``, the
    agent's ``InvalidOptionError``), adding where the value was written.

    Attributes:
        problem: what is wrong, e.g. ``"'four' is not an integer"``.
        text: the offending text (one list item, or the whole value).
        allowed: what the spec accepts, in words (``allowed_text``).
        bad_choice: set when ``text`` is not among the spec's choices, so a
            caller can suggest the nearest one.
    """

    def __init__(self, problem: str, text: str, allowed: str, bad_choice: bool = False) -> None:
        super().__init__(f"{problem}; allowed: {allowed}")
        self.problem = problem
        self.text = text
        self.allowed = allowed
        self.bad_choice = bad_choice


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
    if spec.kind is Kind.TEXT:
        return "one value without spaces"
    return "semicolon separated key=value sub-options"


def parse_text(spec: Spec, raw: str) -> SubValue:
    """Typed value of ``raw`` for ``spec`` (any kind but ``SUB_OPTIONS``).

    Raises:
        ValueProblem: ``raw`` is not a value ``spec`` accepts.
        ValueError: ``spec`` is a sub-option list (each entry is parsed on its own).

    Example:
        >>> parse_text(Spec(name="n", kind=Kind.INT, help="", value_range=Range(low=1)), "+4")
        4
    """
    if spec.kind in (Kind.FLAG, Kind.BOOL):
        return _parse_bool(spec, raw)
    if spec.kind in (Kind.INT, Kind.FLOAT):
        return _parse_number(spec, raw)
    if spec.kind is Kind.ENUM:
        return _parse_choice(spec, raw)
    if spec.kind in (Kind.ENUM_LIST, Kind.NAME_LIST):
        return _parse_list(spec, raw)
    if spec.kind is Kind.TEXT:
        if not raw or any(ch.isspace() for ch in raw):
            raise ValueProblem(f"'{raw}' is not one value", raw, allowed_text(spec))
        return raw
    raise ValueError(f"{spec.name}: a sub-option list has no single value to parse")


def _parse_bool(spec: Spec, raw: str) -> bool:
    if raw.lower() == TRUE:
        return True
    if raw.lower() == FALSE:
        return False
    raise ValueProblem(f"'{raw}' is not a boolean", raw, allowed_text(spec))


def _parse_number(spec: Spec, raw: str) -> int | float:
    pattern = _INT if spec.kind is Kind.INT else _FLOAT
    if not pattern.fullmatch(raw):
        noun = "an integer" if spec.kind is Kind.INT else "a number"
        raise ValueProblem(f"'{raw}' is not {noun}", raw, allowed_text(spec))
    number: int | float = int(raw) if spec.kind is Kind.INT else float(raw)
    if not math.isfinite(number) or (spec.value_range and not spec.value_range.contains(number)):
        raise ValueProblem(f"{raw} is out of range", raw, allowed_text(spec))
    return number


def _parse_choice(spec: Spec, raw: str) -> str:
    if raw in spec.choices:
        return raw
    raise ValueProblem(f"'{raw}' is not a valid value", raw, allowed_text(spec), bad_choice=True)


def _parse_list(spec: Spec, raw: str) -> tuple[str, ...]:
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ValueProblem(f"empty item in list '{raw}'", raw, allowed_text(spec))
    if spec.kind is Kind.ENUM_LIST:
        items = [_parse_choice(spec, item) for item in items]
    dupes = sorted({item for item in items if items.count(item) > 1})
    if dupes:
        problem = f"{', '.join(dupes)} given more than once in '{raw}'"
        raise ValueProblem(problem, raw, allowed_text(spec))
    if spec.unordered:
        _check_all_alone(items, raw, spec)
        items.sort(key=spec.choices.index)
    return tuple(items)


def _check_all_alone(items: list[str], raw: str, spec: Spec) -> None:
    # "all" already means every unit: combined with others it reads as a typo.
    if "all" in spec.choices and "all" in items and len(items) > 1:
        problem = f"'all' cannot be combined with other values in '{raw}'"
        raise ValueProblem(problem, raw, allowed_text(spec))


def parse_wire_options(
    specs: Mapping[str, Spec], raw: Mapping[str, str], parent: str
) -> dict[str, SubValue]:
    """Typed values of sub-options that arrive as text (the agent's side of the wire).

    The controller sends canonical text it already validated; the agent checks it
    again against the same table, because a value a delegate library does not
    expect can abort the whole device process instead of failing the load.

    Raises:
        ValueError: an unknown sub-option, or a text its spec does not accept; the
            message names ``parent``, the sub-option and what is allowed.

    Example:
        >>> flag = Spec(name="enable_fallback", kind=Kind.BOOL, help="")
        >>> parse_wire_options({"enable_fallback": flag}, {"enable_fallback": "false"}, "--x")
        {'enable_fallback': False}
    """
    unknown = sorted(set(raw) - set(specs))
    if unknown:
        raise ValueError(f"unknown {parent} sub-option(s): {', '.join(unknown)}")
    values: dict[str, SubValue] = {}
    for name, text in raw.items():
        try:
            values[name] = parse_text(specs[name], text)
        except ValueProblem as exc:
            raise ValueError(f"{parent} {name}={text!r}: {exc}") from exc
    return values
