"""Running one claimed job: profile and inference on a device, compile on the host.

A runner gets a job the worker already claimed (state ``provisioning device``),
moves it forward, persists what it learns as it arrives, and ends it SUCCESS
or FAILED with a reason. Every transition passes the worker id, so a runner
that lost its job (cancelled, or recovered by another worker) cannot touch it.

One job per module:

- ``dispatch``: ``run_job`` picks the runner; a device failure retries the job
- ``profile``, ``inference``, ``compile``: the three runners
- ``run_options``: the job's stored options, and the ``RunOptions`` proto built from them
- ``events``: the agent's event stream into the store, the result builder, the listener
- ``result_parts``: what a result says beyond the agent's measurements
- ``artifacts``: which model a job runs, and the file the agent receives
- ``cooldown``: device health before a run, after a cool-down wait
- ``context``: ``RunContext``, what a runner is given besides its job
"""

from __future__ import annotations

from controller.runners.artifacts import model_artifact
from controller.runners.context import JobHooks, RunContext
from controller.runners.cooldown import health_before
from controller.runners.dispatch import run_job
from controller.runners.profile import DEFAULT_LAYER_PROFILE_ITERATIONS

__all__ = [
    "DEFAULT_LAYER_PROFILE_ITERATIONS",
    "JobHooks",
    "RunContext",
    "health_before",
    "model_artifact",
    "run_job",
]
