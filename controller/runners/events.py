"""The agent's event stream of a profile job: into the store, the builder, the listener.

Each event is stored as it arrives (so a job that ends early still shows what it
measured), converted once to its ``controller.events`` form, added to the result
builder, and handed to the caller's listener. A
watchdog cuts the stream when the agent shows no sign of life or a stage overran
(``controller/liveness.py``); the job then fails with that reason.
"""

from __future__ import annotations

import time
from typing import Any

from controller.errors import DeviceError, InternalError
from controller.events import ProfileEvent, event_from_proto
from controller.liveness import StreamLimits, StreamWatchdog
from controller.results import ProfileResultBuilder
from controller.runners.context import RunContext
from controller.store import JobRecord
from protos import agent_pb2 as pb

# How often a running job looks at the store for a cancel (a read, cheap).
_CANCEL_POLL_SEC = 0.5


def stream_profile(
    ctx: RunContext, job: JobRecord, client: Any, request: pb.ProfileRequest, serial: str
) -> ProfileResultBuilder:
    """Run ``request`` on the agent; its events, stored as they arrived, in a builder.

    Raises:
        DeviceError: the connection was lost, or the watchdog cut a silent stream.
    """
    builder = ProfileResultBuilder()
    last_poll = time.monotonic()
    limits = StreamLimits.from_env()
    request.heartbeat_s = limits.heartbeat_s
    stream = client.profile(request)
    seq = 0
    with StreamWatchdog(limits, request.max_time_s, stream.cancel) as watchdog:
        try:
            for event in stream:
                watchdog.saw(event)
                if event.WhichOneof("event") != "heartbeat":  # liveness, not a measurement
                    record_event(ctx, job, seq, event, builder)
                    seq += 1
                if time.monotonic() - last_poll > _CANCEL_POLL_SEC:
                    last_poll = time.monotonic()
                    if ctx.cancelled(job):
                        client.cancel(job.id)
        except InternalError as exc:
            if watchdog.reason is None:
                raise DeviceError(
                    f"{exc} — the connection to the agent was lost during the job "
                    "(agent process died or device disconnected)"
                ) from exc
            # No Cancel call: the agent may be frozen, and it ends a job whose stream was
            # cut by itself (its servicer's RPC-done callback), once it runs again.
            raise DeviceError(f"[{serial}] {watchdog.reason}") from exc
    return builder


def record_event(
    ctx: RunContext, job: JobRecord, seq: int, event: pb.ProfileEvent, builder: ProfileResultBuilder
) -> None:
    """One measurement event: into the builder, the store (event ``seq``), the listener."""
    try:  # the one conversion; the builder and the listener take the domain event
        domain: ProfileEvent | None = event_from_proto(event)
    except ValueError:  # a kind this controller does not know (a newer agent): kept, not read
        domain = None
    if domain is not None:
        builder.add(domain)
    kind = domain.kind if domain is not None else event.WhichOneof("event") or "unknown"
    # worker_id: once this worker handed the job back, a late event of its run is refused
    # even if another worker has re-claimed the job meanwhile.
    ctx.store.append_events(
        job.id,
        [(seq, kind, event.SerializeToString())],
        attempt=job.attempt,
        worker_id=ctx.worker_id,
    )
    if ctx.listener is not None and domain is not None:
        ctx.listener(job, domain)
