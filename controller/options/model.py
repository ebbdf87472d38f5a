"""``Options``: the parsed, validated options of one job, with defaults applied.

Field names are the table's option names (a test keeps the two in step); the
values are typed. Which options the user actually wrote is kept in ``given``,
so the canonical string and the wire maps carry only what was asked for.

A job stores its options once, at submit, in their canonical typed form
(``to_spec()``, under the job spec's ``OPTIONS_SPEC_KEY``); the worker rebuilds
them with ``from_spec()`` and never parses the text again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.errors import InternalError
from controller.options.grammar import join_tokens
from controller.options.spec import JOBS, Job, Kind, OptionSpec, Spec, SubValue, Value
from controller.options.table import OPTIONS, OPTIONS_BY_NAME
from controller.options.values import format_value

#: The key of a job's stored spec that holds ``Options.to_spec()``.
OPTIONS_SPEC_KEY = "options"


class FrozenMap(Mapping[str, SubValue]):
    """A read-only, hashable mapping, so that ``Options`` stays hashable."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, SubValue] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> SubValue:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


@dataclass(frozen=True)
class Options:
    """Options of one job; build it with ``parse_options``.

    ``tflite_options`` and ``qnn_options`` hold only the sub-options the user
    set; ``*_effective()`` adds the cloud service's defaults. ``requested`` (the text as
    given) does not take part in equality, so a round trip compares equal.

    Example:
        >>> from controller.options import parse_options
        >>> opts = parse_options("--max_profiler_iterations=50", job="profile",
        ...                      target_runtime="qnn_lib_aarch64_android")
        >>> opts.max_profiler_iterations, opts.max_profiler_time, opts.compute_unit
        (50, 600.0, ('npu',))
    """

    job: Job
    target_runtime: str
    compute_unit: tuple[str, ...]
    output_names: tuple[str, ...]
    force_channel_last_input: tuple[str, ...]
    force_channel_last_output: tuple[str, ...]
    quantize_full_type: str | None
    quantize_io: bool
    quantize_io_type: str | None
    qnn_context_binary_vtcm: int
    qnn_context_binary_optimization_level: int
    dequantize_outputs: bool
    tflite_delegates: tuple[str, ...]
    tflite_options: Mapping[str, SubValue]
    qnn_options: Mapping[str, SubValue]
    onnx_execution_providers: tuple[str, ...]
    max_profiler_iterations: int
    max_profiler_time: float
    qairt_version: str | None
    #: Names of the options the user wrote (without ``--``).
    given: frozenset[str]
    requested: str = field(default="", compare=False)

    def applies(self, name: str) -> bool:
        """Whether option ``name`` has any effect on this job and target runtime."""
        spec = OPTIONS_BY_NAME[name]
        return self.job in spec.jobs and self.target_runtime in spec.runtimes

    def tflite_options_effective(self) -> dict[str, SubValue]:
        """User-set TFLite sub-options over the cloud service's defaults.

        Example:
            >>> from controller.options import parse_options
            >>> opts = parse_options("--tflite_options number_of_threads=2",
            ...                      job="profile", target_runtime="tflite")
            >>> effective = opts.tflite_options_effective()
            >>> effective["number_of_threads"], effective["enable_fallback"]
            (2, True)
        """
        return _effective(OPTIONS_BY_NAME["tflite_options"], self.tflite_options)

    def qnn_options_effective(self) -> dict[str, SubValue]:
        """User-set QNN sub-options over the cloud service's defaults."""
        return _effective(OPTIONS_BY_NAME["qnn_options"], self.qnn_options)

    def tflite_options_wire(self) -> dict[str, str]:
        """User-set TFLite sub-options as the canonical strings the agent receives.

        Example:
            >>> from controller.options import parse_options
            >>> parse_options('--tflite_options "enable_fallback=FALSE;number_of_threads=+4"',
            ...               job="profile", target_runtime="tflite").tflite_options_wire()
            {'enable_fallback': 'false', 'number_of_threads': '4'}
        """
        return _wire(OPTIONS_BY_NAME["tflite_options"], self.tflite_options)

    def qnn_options_wire(self) -> dict[str, str]:
        """User-set QNN sub-options as the canonical strings the agent receives."""
        return _wire(OPTIONS_BY_NAME["qnn_options"], self.qnn_options)

    def to_option_string(self) -> str:
        """Canonical text of the user-set options; parses back to an equal ``Options``.

        Example:
            >>> from controller.options import parse_options
            >>> parse_options("--compute_unit cpu,npu --quantize_io true",
            ...               job="compile", target_runtime="tflite").to_option_string()
            '--compute_unit=npu,cpu --quantize_io'
        """
        return join_tokens(self.to_option_tokens())

    def to_option_tokens(self) -> list[str]:
        """``to_option_string`` as tokens (``--name=value`` each, table order)."""
        tokens = []
        for spec in OPTIONS:
            if spec.name not in self.given:
                continue
            value = getattr(self, spec.name)
            if spec.kind is Kind.FLAG:
                tokens.append(f"--{spec.name}" if value else f"--{spec.name}=false")
            else:
                # "=" keeps a value that starts with "--" attached to its option.
                tokens.append(f"--{spec.name}={format_value(spec, value)}")
        return tokens

    def to_spec(self) -> dict[str, Any]:
        """The canonical, JSON-able form a job stores at submit; ``from_spec`` reads it.

        Only the options the user wrote are kept (typed: lists as JSON lists), so
        defaults come from the table as with the option text.

        Example:
            >>> from controller.options import parse_options
            >>> parse_options("--compute_unit cpu --max_profiler_time 30", job="profile",
            ...               target_runtime="tflite").to_spec()["given"]
            {'compute_unit': ['cpu'], 'max_profiler_time': 30.0}
        """
        given = {
            spec.name: _jsonable(getattr(self, spec.name))
            for spec in OPTIONS
            if spec.name in self.given
        }
        return {
            "job": self.job,
            "target_runtime": self.target_runtime,
            "given": given,
            "requested": self.requested,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Options:
        """The ``Options`` that ``to_spec()`` stored, without parsing any text.

        Raises:
            InternalError: the stored form is not one ``to_spec()`` writes (ours
                to fix: it was validated when the job was submitted).

        Example:
            >>> from controller.options import parse_options
            >>> opts = parse_options("--compute_unit gpu", job="profile", target_runtime="tflite")
            >>> Options.from_spec(opts.to_spec()) == opts
            True
        """
        if spec.get("job") not in JOBS:
            raise InternalError(f"stored job options name no job kind: {spec!r}")
        try:
            values = {
                name: _from_jsonable(OPTIONS_BY_NAME[name], value)
                for name, value in spec["given"].items()
            }
            return build_options(
                spec["job"], spec["target_runtime"], values, str(spec.get("requested", ""))
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InternalError(f"stored options are not Options.to_spec()'s: {spec!r}") from exc

    def as_dict(self) -> dict[str, Any]:
        """JSON-able record for job results: what was requested and what is in effect.

        ``effective`` lists every option that applies to this job and target
        runtime, with the cloud service's defaults filled in (``None``: the runtime decides).
        ``sub_options_set`` names the sub-options the user set: only those are
        sent to the device; a sub-option's cloud default is applied where the
        runtime path has an equivalent (the result's ``applied.settings`` and
        ``applied.warnings`` show what the runtime really holds).
        """
        effective: dict[str, Any] = {}
        for spec in OPTIONS:
            if not self.applies(spec.name):
                continue
            value = getattr(self, spec.name)
            if spec.kind is Kind.SUB_OPTIONS:
                value = _effective(spec, value)
            effective[spec.name] = _jsonable(value)
        return {
            "requested": self.requested,
            "canonical": self.to_option_string(),
            "job": self.job,
            "target_runtime": self.target_runtime,
            "given": sorted(self.given),
            "effective": effective,
            "sub_options_set": {
                name: sorted(getattr(self, name))
                for name in ("tflite_options", "qnn_options")
                if self.applies(name)
            },
        }


def _effective(spec: OptionSpec, user: Mapping[str, SubValue]) -> dict[str, SubValue]:
    defaults = {
        name: sub.default for name, sub in spec.sub_options().items() if sub.default is not None
    }
    return {**defaults, **user}


def _wire(spec: OptionSpec, user: Mapping[str, SubValue]) -> dict[str, str]:
    subs = spec.sub_options()
    return {name: format_value(subs[name], value) for name, value in user.items()}


def _jsonable(value: Value | None) -> Any:
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value


def _from_jsonable(spec: Spec, value: Any) -> Value:
    """A value as ``_jsonable`` wrote it, back in the type its ``Kind`` parses to."""
    if spec.kind is Kind.SUB_OPTIONS:
        assert isinstance(spec, OptionSpec)
        subs = spec.sub_options()
        return {name: _plain_from_jsonable(subs[name], item) for name, item in value.items()}
    return _plain_from_jsonable(spec, value)


def _plain_from_jsonable(spec: Spec, value: Any) -> SubValue:
    if spec.kind in (Kind.ENUM_LIST, Kind.NAME_LIST):
        if not isinstance(value, list):
            raise TypeError(f"{spec.name}: a list, not {value!r}")
        return tuple(str(item) for item in value)
    if spec.kind is Kind.FLOAT:
        return float(value)
    if spec.kind is Kind.INT:
        return int(value)
    if not isinstance(value, bool | str):
        raise TypeError(f"{spec.name}: {value!r}")
    return value  # flag, bool, enum and text: JSON keeps their type


def build_options(
    job: Job, runtime: str, values: Mapping[str, Value], requested: str = ""
) -> Options:
    """``Options`` from already validated values, with table defaults filled in.

    Example:
        >>> build_options("profile", "qnn_lib_aarch64_android", {}).compute_unit
        ('npu',)
    """
    fields: dict[str, Any] = {}
    for spec in OPTIONS:
        if spec.name == "target_runtime":
            continue  # the effective runtime is passed in; it is not a plain default
        value = values.get(spec.name, spec.default_for(runtime))
        if spec.kind is Kind.SUB_OPTIONS:
            value = FrozenMap(values.get(spec.name, {}))  # type: ignore[arg-type]
        elif value is None and spec.kind in (Kind.ENUM_LIST, Kind.NAME_LIST):
            value = ()
        fields[spec.name] = value
    return Options(
        job=job,
        target_runtime=runtime,
        given=frozenset(values),
        requested=requested,
        **fields,
    )
