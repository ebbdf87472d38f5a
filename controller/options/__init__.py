"""Job options: the cloud service's option language, parsed and validated before any device time.

One declarative table (``table.py``, with the sub-option tables it shares with
the agent in ``contract/option_tables.py``) drives parsing, validation, defaults,
``describe_options()`` and OPTIONS.md.

Example:
    >>> from controller.options import parse_options, target_runtime_for_model
    >>> runtime = target_runtime_for_model("mobilenet.tflite")
    >>> opts = parse_options('--tflite_options "number_of_threads=4"',
    ...                      job="profile", target_runtime=runtime)
    >>> opts.tflite_options_wire()
    {'number_of_threads': '4'}
"""

from __future__ import annotations

from controller.options.docs import describe_options, render_markdown
from controller.options.errors import OptionError
from controller.options.model import OPTIONS_SPEC_KEY, Options
from controller.options.parse import parse_options
from controller.options.spec import JOBS, RUNTIMES, Job
from controller.options.targets import default_compile_target, target_runtime_for_model

__all__ = [
    "JOBS",
    "Job",
    "OPTIONS_SPEC_KEY",
    "OptionError",
    "Options",
    "RUNTIMES",
    "default_compile_target",
    "describe_options",
    "parse_options",
    "render_markdown",
    "target_runtime_for_model",
]
