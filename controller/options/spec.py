"""The vocabulary the option table is written in.

``table.py`` and ``subtables.py`` declare options with these types; parsing,
validation, defaults, help text and OPTIONS.md all read the declarations, so a
fact about an option lives in exactly one place.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Job = Literal["compile", "profile", "inference"]
JOBS: tuple[Job, ...] = ("compile", "profile", "inference")

#: The four target runtimes of the seed, in the seed's order.
RUNTIMES = ("tflite", "qnn_lib_aarch64_android", "qnn_context_binary", "onnx")

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


@dataclass(frozen=True)
class RequiresIfGiven:
    """When ``option`` is also given, it must be one of ``values``."""

    option: str
    values: tuple[str, ...]

    def describe(self, prefix: str) -> str:
        return f"when {prefix}{self.option} is given, it must be {' or '.join(self.values)}"

    def violation(
        self, name: str, given: Mapping[str, Value], output_count: int | None, prefix: str
    ) -> str | None:
        other = given.get(self.option)
        if other is None or other in self.values:
            return None
        return f"only available with {prefix}{self.option} {' or '.join(self.values)}, not {other}"


@dataclass(frozen=True)
class OneNamePerOutput:
    """A name list that must have exactly one entry per model output."""

    def describe(self, prefix: str) -> str:
        return "one name for each model output"

    def violation(
        self, name: str, given: Mapping[str, Value], output_count: int | None, prefix: str
    ) -> str | None:
        names = given[name]
        assert isinstance(names, tuple)
        if output_count is None or len(names) == output_count:
            return None
        return f"{len(names)} name(s) given but the model has {output_count} output(s)"


_DEFAULT_OUTPUT = re.compile(r"output_(0|[1-9][0-9]*)")


@dataclass(frozen=True)
class NamesFromOutputs:
    """Names that must be output names: from ``names_option`` or ``output_<n>``."""

    names_option: str

    def describe(self, prefix: str) -> str:
        return f"names from {prefix}{self.names_option}, or the defaults output_0, output_1, ..."

    def violation(
        self, name: str, given: Mapping[str, Value], output_count: int | None, prefix: str
    ) -> str | None:
        names = given[name]
        assert isinstance(names, tuple)
        custom = given.get(self.names_option)
        for item in names:
            if isinstance(custom, tuple):
                ok = item in custom
            else:
                match = _DEFAULT_OUTPUT.fullmatch(item)
                ok = match is not None and (output_count is None or int(match[1]) < output_count)
            if not ok:
                return f"'{item}' is not an output name; {self._allowed(custom, output_count)}"
        return None

    def _allowed(self, custom: Value | None, output_count: int | None) -> str:
        if isinstance(custom, tuple):
            return f"allowed (from --{self.names_option}): {', '.join(custom)}"
        if output_count is not None:
            defaults = ", ".join(f"output_{i}" for i in range(output_count))
            return f"allowed (default output names): {defaults}"
        return "allowed: the default output names output_0, output_1, ..."


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
    #: The seed's default, already typed; None when the runtime or backend decides.
    default: SubValue | None = None
    #: The default in words, when a plain value would not say it (derived defaults).
    default_text: str = ""
    requires: tuple[Requirement, ...] = ()
    #: For ENUM_LIST: the seed calls the list unordered, so it is kept in table order.
    unordered: bool = False
    example: str = ""


@dataclass(frozen=True, kw_only=True)
class SubTable:
    """A table of sub-options (e.g. "TensorFlow Lite Delegate Options for GPUv2")."""

    title: str
    help: str
    options: tuple[Spec, ...]


@dataclass(frozen=True, kw_only=True)
class OptionSpec(Spec):
    """A top-level ``--option``: a Spec plus where it applies."""

    jobs: frozenset[Job]
    runtimes: frozenset[str] = frozenset(RUNTIMES)
    #: The seed's runtime rule in words; generated from ``runtimes`` when empty.
    runtime_rule: str = ""
    #: Defaults that differ per target runtime (``--compute_unit``).
    runtime_defaults: Mapping[str, SubValue] = field(default_factory=dict)
    sub_tables: tuple[SubTable, ...] = ()

    def default_for(self, runtime: str) -> SubValue | None:
        """The default value when the target runtime is ``runtime``."""
        return self.runtime_defaults.get(runtime, self.default)

    def sub_options(self) -> dict[str, Spec]:
        """Every sub-option of this option by name, across its sub-tables."""
        return {spec.name: spec for table in self.sub_tables for spec in table.options}

    def rule(self) -> str:
        """Where this option applies, in words (used in errors and docs)."""
        if self.runtime_rule:
            return self.runtime_rule
        names = [r for r in RUNTIMES if r in self.runtimes]
        return f"can only be used when the target runtime is {' or '.join(names)}"
