"""The one error the option parser raises, and the nearest-name helper.

``OptionError`` is a ``UserError``: callers that only know the cloud service's hierarchy
keep working, while the CLI and tests can read the structured fields.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from controller.errors import UserError

#: Below this similarity a "did you mean" would be noise rather than help.
_SUGGEST_CUTOFF = 0.6


class OptionError(UserError):
    """A bad option string: names the option, the bad value and what is allowed.

    Attributes:
        option: how the user would write the option (``--compute_unit`` or
            ``--tflite_options number_of_threads``); ``None`` for grammar errors
            that belong to no option.
        value: the offending text, when there is one.
        allowed: the allowed values or range, in words.
        suggestion: the nearest valid spelling, when one is close.
    """

    def __init__(
        self,
        problem: str,
        *,
        option: str | None = None,
        value: str | None = None,
        allowed: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.problem = problem
        self.option = option
        self.value = value
        self.allowed = allowed
        self.suggestion = suggestion
        super().__init__(self._compose())

    def _compose(self) -> str:
        text = f"{self.option}: {self.problem}" if self.option else self.problem
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        if self.suggestion:
            text += f". Did you mean {self.suggestion}?"
        return visible(text)


def visible(text: str) -> str:
    r"""``text`` with each non-printable character escaped as ``repr`` writes it.

    A control character pasted into an option value (a bell, an ANSI escape, a
    zero-width space) prints as nothing, so the error would seem to refuse a good
    value; escaped, the message shows it.

    Example:
        >>> print(visible("--compute_unit: 'cp\x07u' is not a valid value"))
        --compute_unit: 'cp\x07u' is not a valid value
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _words(name: str) -> str:
    # Word order is a common slip (the cloud's own docs write --quantization_type_full
    # for --quantize_full_type), so names are also compared with sorted words.
    return " ".join(sorted(name.lower().replace("-", "_").split("_")))


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``name``, or None when nothing is close.

    Example:
        >>> nearest("compute_units", ["compute_unit", "target_runtime"])
        'compute_unit'
    """
    best, best_score = None, _SUGGEST_CUTOFF
    for candidate in candidates:
        if candidate.lower() == name.lower():
            return candidate
        score = max(
            difflib.SequenceMatcher(None, name.lower(), candidate.lower()).ratio(),
            difflib.SequenceMatcher(None, _words(name), _words(candidate)).ratio(),
        )
        if score > best_score:
            best, best_score = candidate, score
    return best
