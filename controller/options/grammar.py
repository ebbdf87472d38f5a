"""Tokenizing: option text -> ``RawOption`` (name, unparsed value) and back.

The accepted forms are the cloud service's: ``--opt value``, ``--opt=value``, flags
with an optional boolean (``--quantize_io``, ``--quantize_io false``,
``--quantize_io=true``), and shell quoting (``shlex``) around lists that hold
spaces or semicolons. A string is split like a shell would; a sequence is taken
as tokens already split (like ``argv``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contract.option_spec import FALSE, TRUE
from controller.options.errors import OptionError, nearest
from controller.options.spec import Kind, OptionSpec


@dataclass(frozen=True)
class RawOption:
    """One option as written: ``value`` is None for a bare flag."""

    name: str
    value: str | None


def split_tokens(options: str | Sequence[str] | None) -> list[str]:
    """Split option text into tokens the way a POSIX shell would.

    Example:
        >>> split_tokens('--output_names "a,b" --quantize_io')
        ['--output_names', 'a,b', '--quantize_io']
    """
    if options is None:
        return []
    if isinstance(options, str):
        try:
            return shlex.split(options)
        except ValueError as exc:  # shlex's only error: an unclosed quote or escape
            raise OptionError(f"cannot split the option string ({exc})", value=options) from exc
    if isinstance(options, bytes) or not all(isinstance(t, str) for t in options):
        raise OptionError("options must be a string or a sequence of strings", value=repr(options))
    return list(options)


def join_tokens(tokens: Sequence[str]) -> str:
    """Inverse of ``split_tokens``: quote only where needed, and only the value.

    Example:
        >>> join_tokens(["--tflite_options=a=1;b=2", "--quantize_io"])
        "--tflite_options='a=1;b=2' --quantize_io"
    """
    return " ".join(_quote(token) for token in tokens)


def _quote(token: str) -> str:
    # Quoting just the value reads like the cloud service's examples; the shell joins
    # "--opt='a;b'" back into the single token "--opt=a;b".
    name, sep, value = token.partition("=")
    if token.startswith("--") and sep and shlex.quote(name) == name:
        return f"{name}={shlex.quote(value)}"
    return shlex.quote(token)


def is_bool_word(text: str) -> bool:
    return text.lower() in (TRUE, FALSE)


def group_tokens(tokens: Sequence[str], specs: Mapping[str, OptionSpec]) -> list[RawOption]:
    """Pair each ``--name`` with its value token, in the order given.

    Example:
        >>> from controller.options.table import OPTIONS_BY_NAME
        >>> group_tokens(["--quantize_io", "--compute_unit=npu"], OPTIONS_BY_NAME)
        [RawOption(name='quantize_io', value=None), RawOption(name='compute_unit', value='npu')]
    """
    grouped: list[RawOption] = []
    index = 0
    while index < len(tokens):
        name, inline = _split_option_token(tokens[index], grouped, specs)
        spec = specs[name]
        index += 1
        if inline is not None:
            grouped.append(RawOption(name, inline))
        elif spec.kind is Kind.FLAG:
            # A flag takes the next token only when it is a boolean; anything
            # else is left to be read as the next option (and rejected there).
            takes = index < len(tokens) and is_bool_word(tokens[index])
            grouped.append(RawOption(name, tokens[index] if takes else None))
            index += int(takes)
        elif index < len(tokens) and not tokens[index].startswith("--"):
            grouped.append(RawOption(name, tokens[index]))
            index += 1
        else:
            raise OptionError(
                "needs a value", option=f"--{name}", allowed=f"--{name} {spec.metavar}"
            )
    return grouped


def _split_option_token(
    token: str, before: Sequence[RawOption], specs: Mapping[str, OptionSpec]
) -> tuple[str, str | None]:
    """``--name`` or ``--name=value`` -> (known name, inline value or None)."""
    if not token.startswith("--"):
        raise _stray_token(token, before, specs)
    name, sep, value = token[2:].partition("=")
    if name not in specs:
        guess = nearest(name, specs)
        if guess:
            raise OptionError(f"unknown option --{name}", value=token, suggestion=f"--{guess}")
        raise OptionError(
            f"unknown option --{name} (`devicelab options` lists them all)", value=token
        )
    return name, value if sep else None


def _stray_token(
    token: str, before: Sequence[RawOption], specs: Mapping[str, OptionSpec]
) -> OptionError:
    if token.startswith("-") and (guess := nearest(token.lstrip("-").split("=")[0], specs)):
        return OptionError(f"unexpected '{token}': options start with --", suggestion=f"--{guess}")
    if before:
        last = before[-1]
        shown = f"--{last.name}" + (f" {last.value}" if last.value is not None else "")
        hint = (
            "quote a list that contains spaces"
            if specs[last.name].kind is not Kind.FLAG
            else f"--{last.name} takes only true or false"
        )
        return OptionError(f"unexpected '{token}' after '{shown}' ({hint})", value=token)
    return OptionError(f"unexpected '{token}': options start with --", value=token)
