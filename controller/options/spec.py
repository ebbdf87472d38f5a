"""The vocabulary the option table is written in.

``table.py`` declares the top-level options with these types, and
``contract/option_tables.py`` the sub-options; parsing, validation, defaults,
help text and OPTIONS.md all read the declarations, so a fact about an option
lives in exactly one place. The types a sub-option needs (``Spec``, ``Kind``,
``Range``, ``Requires``, ...) are declared in ``contract/option_spec.py``, because
the agent reads the sub-option tables too and must not import the controller;
they are re-exported here. What only top-level options use stays here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from contract.option_spec import (
    Kind,
    Range,
    Requirement,
    Requires,
    Spec,
    SubTable,
    SubValue,
    Value,
)

__all__ = [
    "JOBS",
    "RUNTIMES",
    "Job",
    "Kind",
    "NamesFromOutputs",
    "OneNamePerOutput",
    "OptionSpec",
    "Range",
    "Requirement",
    "Requires",
    "RequiresIfGiven",
    "Spec",
    "SubTable",
    "SubValue",
    "Value",
]

Job = Literal["compile", "profile", "inference"]
JOBS: tuple[Job, ...] = ("compile", "profile", "inference")

#: The cloud service's four target runtimes, in its order.
RUNTIMES = ("tflite", "qnn_lib_aarch64_android", "qnn_context_binary", "onnx")


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
class OptionSpec(Spec):
    """A top-level ``--option``: a Spec plus where it applies."""

    jobs: frozenset[Job]
    runtimes: frozenset[str] = frozenset(RUNTIMES)
    #: The cloud service's runtime rule in words; generated from ``runtimes`` when empty.
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
