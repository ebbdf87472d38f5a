"""Under ``devicelab run``: the cloud's compile(``qnn_dlc``) -> link, as one context binary.

The cloud compiles a QNN DLC with Qualcomm's ``qairt-converter`` and links it into a
QNN context binary with ``qnn-context-binary-generator``; qai-hub-models exports every
``qnn_context_binary`` target that way (its ``TargetRuntime.aihub_target_runtime_flag``
asks for ``--target_runtime qnn_dlc``, then ``submit_link_job``). Those tools are not on
PyPI, and devicelab's API refuses ``qnn_dlc`` (``controller/link_jobs.py``). A program
run by ``devicelab run`` wants the end product, though, so there its ``qnn_dlc``
compile makes that product directly: a context binary compiled with onnxruntime-qnn
for the device's SoC, whose link job passes it through. The compile job's notes say
so, the target model's type says ``qnn_context_binary``, and stderr says it once.
"""

from __future__ import annotations

import shlex
import sys

#: What the compile job's result notes say (``controller/runners`` copies spec notes).
SUBSTITUTION_NOTE = (
    "asked for --target_runtime qnn_dlc under devicelab run: compiled a QNN context "
    "binary directly (onnxruntime-qnn), which the link job passes through; a QNN DLC "
    "needs Qualcomm's qairt-converter"
)

_told = False


def context_binary_options(options: str) -> tuple[str, list[str]]:
    """``options`` with a ``qnn_dlc`` target made ``qnn_context_binary``, and the notes
    to record on the job (none when the target was something else)."""
    try:
        tokens = shlex.split(options)
    except ValueError:
        return options, []  # the option parser reports the quoting error itself
    changed = False
    for i, token in enumerate(tokens):
        if token == "--target_runtime=qnn_dlc":
            tokens[i], changed = "--target_runtime=qnn_context_binary", True
        elif token == "qnn_dlc" and i and tokens[i - 1] == "--target_runtime":
            tokens[i], changed = "qnn_context_binary", True
    if not changed:
        return options, []
    _tell_once()
    return shlex.join(tokens), [SUBSTITUTION_NOTE]


def _tell_once() -> None:
    global _told
    if not _told:
        _told = True
        print(f"devicelab: {SUBSTITUTION_NOTE}", file=sys.stderr, flush=True)
