"""One block of a paired A/B session: one profile job of one artifact, and what it measured.

A block is a whole profile job (load, warm-up, ``iterations`` timed runs, the
profiled runs for per-layer times) submitted through the public API, so it runs
through the same worker, scheduler and agent as any job, and a suite on several
devices runs its devices in parallel. Its per-iteration latencies come from the
result; its per-layer times per profiled iteration from the job's stored events
(the result keeps only their medians).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from contract.layers import LayerTiming
from controller.devices import Device
from controller.errors import InternalError, UserError
from controller.events import LayerIteration, events_from_stored
from controller.managed import Model
from controller.options import parse_options
from controller.regress.health import health_summary, throttle_reason
from controller.store import Store

#: How long one block may take before the session gives up on it (a stuck device).
BLOCK_TIMEOUT_S = 1800.0


@dataclass
class Block:
    """One arm's profile job inside a session: ``arm`` is "A" (baseline) or "B"."""

    arm: str
    index: int
    job_id: str
    samples_us: list[int]
    layer_iterations: list[list[LayerTiming]] = field(default_factory=list)
    health: dict[str, Any] = field(default_factory=dict)
    discarded: str | None = None  # why it is left out of the comparison
    wall_s: float = 0.0  # submit to result, queueing included
    session: int = 0  # 0 the first session, 1 the confirmation re-run

    def as_dict(self) -> dict[str, Any]:
        """The block as the JSON report keeps it (samples included)."""
        return {
            "arm": self.arm,
            "index": self.index,
            "job_id": self.job_id,
            "samples_us": self.samples_us,
            "health": health_summary(self.health),
            "discarded": self.discarded,
            "wall_s": round(self.wall_s, 3),
            "session": self.session,
        }


def block_options(options: str, iterations: int) -> str:
    """The entry's options with the block's iteration count, unless it set its own."""
    if "--max_profiler_iterations" in options:
        return options
    return f"{options} --max_profiler_iterations {iterations}".strip()


def check_options(options: str, model: Model) -> None:
    """Refuse a bad option string before any device time is spent (UserError)."""
    parse_options(options, job="profile", target_runtime=model.model_type.value)


def run_block(
    store: Store,
    model: Model,
    device: Device,
    *,
    arm: str,
    index: int,
    options: str,
    max_temperature_c: float,
    label: str,
) -> Block:
    """Run one block and read it back; a failed job raises with its message."""
    import controller as hub  # the public API: the package imports this module

    start = time.monotonic()
    job = hub.submit_profile_job(model, device, name=f"{label} {arm}{index}", options=options)
    assert isinstance(job, hub.ProfileJob)
    status = job.wait(timeout=BLOCK_TIMEOUT_S)
    if not status.success:
        raise UserError(f"{label}: block {arm}{index} (job {job.job_id}) failed: {status.message}")
    profile = job.profile_result()
    health = (profile.context.get("device_health") if profile else None) or {}
    samples = list(profile.inference_times_us) if profile else []
    if not samples:
        raise InternalError(f"{label}: block {arm}{index} (job {job.job_id}) has no samples")
    return Block(
        arm=arm,
        index=index,
        job_id=job.job_id,
        samples_us=samples,
        layer_iterations=layer_iterations(store, job.job_id),
        health=health,
        discarded=throttle_reason(health, max_temperature_c),
        wall_s=time.monotonic() - start,
    )


def layer_iterations(store: Store, job_id: str) -> list[list[LayerTiming]]:
    """Every profiled iteration's layers, from the job's stored agent events."""
    stored = ((e.kind, e.payload) for e in store.events(job_id))
    return [
        list(event.layers)
        for event in events_from_stored(stored)
        if isinstance(event, LayerIteration)
    ]
