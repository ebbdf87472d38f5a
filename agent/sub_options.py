"""A job's ``--tflite_options`` / ``--qnn_options``, parsed once where they enter the agent.

The controller sends sub-option values as canonical text it already validated. The
agent checks them again against the same tables (``contract/option_tables.py``): a value
a delegate library does not expect can abort the whole device process instead of
failing the load. That check happens once per job, when its ``RunConfig`` is built
(``agent/runtimes/base.py``); runtimes and vendor tools read the typed values from
there and never parse the text again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.errors import InvalidOptionError
from contract.option_spec import Spec, SubValue, parse_wire_options
from contract.option_tables import QNN_SUB_OPTIONS, TFLITE_SUB_OPTIONS


@dataclass(frozen=True)
class SubOptions:
    """The sub-options of one flag as the job gave them: each typed, and its text.

    The text stays for messages: a warning names a sub-option as the user wrote it
    (``qnn_options context_priority=HIGH not applied: ...``).
    """

    values: dict[str, SubValue] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def under(self, defaults: SubOptions) -> SubOptions:
        """These sub-options after the ``defaults`` they do not set."""
        unset = [name for name in defaults.values if name not in self.values]
        return SubOptions(
            {**{n: defaults.values[n] for n in unset}, **self.values},
            {**{n: defaults.texts[n] for n in unset}, **self.texts},
        )


def parse_sub_options(specs: Mapping[str, Spec], raw: Mapping[str, str], flag: str) -> SubOptions:
    """Typed values of ``raw`` checked against ``specs``.

    Raises:
        InvalidOptionError: an unknown sub-option, or a value its spec does not accept;
            the message names ``flag``, the sub-option and what is allowed.
    """
    try:
        values = parse_wire_options(specs, raw, flag)
    except ValueError as exc:
        raise InvalidOptionError(str(exc)) from exc
    return SubOptions(values, dict(raw))


def parse_tflite_options(raw: Mapping[str, str]) -> SubOptions:
    """``--tflite_options`` as received, typed (see ``parse_sub_options``)."""
    return parse_sub_options(TFLITE_SUB_OPTIONS, raw, "--tflite_options")


def parse_qnn_options(raw: Mapping[str, str]) -> SubOptions:
    """``--qnn_options`` as received, typed (see ``parse_sub_options``)."""
    return parse_sub_options(QNN_SUB_OPTIONS, raw, "--qnn_options")


# The documented options name BURST as the default HTP performance mode; the QNN EP's
# and qnn-net-run's own defaults differ, and a lab must measure at the documented
# setting unless told otherwise. Both QNN paths apply these on HTP only (other defaults
# are left to the backend: VTCM, for one, is fixed when a context binary is compiled).
HTP_DEFAULTS_APPLIED = ("context_htp_performance_mode",)
_HTP_DEFAULTS = parse_qnn_options(
    {
        name: str(QNN_SUB_OPTIONS[name].default)
        for name in HTP_DEFAULTS_APPLIED
        if QNN_SUB_OPTIONS[name].default is not None
    }
)


def with_htp_defaults(qnn: SubOptions) -> SubOptions:
    """``--qnn_options`` for the HTP backend: the applied documented defaults, then the job's."""
    return qnn.under(_HTP_DEFAULTS)
