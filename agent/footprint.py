"""The agent's own CPU while a job's timed loop runs, recorded with the job's result.

Everything the agent does beside the job during the loop (gRPC, relaying the
loop's progress) is noise in the measurement; a result that carries it shows a
noisy neighbour instead of hiding it. ``getrusage`` of the agent's process
covers all its threads (gRPC's own included) and excludes its children.
"""

from __future__ import annotations

import resource

from agent import events
from protos import agent_pb2 as pb


def _usage() -> resource.struct_rusage:
    return resource.getrusage(resource.RUSAGE_SELF)


class LoopCpuMeter:
    """Watches a job's events as the agent relays them; brackets the timed loop.

    The loop starts at ``StageStarted("inference")`` and ends at the next stage
    or the summary, whichever comes first: between the loop's end and that
    event the job sends only its last batch of latencies.

    Example:
        meter = LoopCpuMeter()
        for event in job:
            meter.saw(event)
        meter.fill(summary_proto.loop_cpu)
    """

    def __init__(self) -> None:
        self._start: resource.struct_rusage | None = None
        self._end: resource.struct_rusage | None = None

    def saw(self, event: object) -> None:
        if self._start is None:
            if isinstance(event, events.StageStarted) and event.stage == "inference":
                self._start = _usage()
        elif self._end is None and isinstance(event, events.StageStarted | events.Summary):
            self._end = _usage()

    def fill(self, loop_cpu: pb.LoopCpu) -> None:
        """Set the agent's fields of ``loop_cpu`` (nothing if no loop was seen)."""
        if self._start is None or self._end is None:
            return
        start, end = self._start, self._end
        loop_cpu.agent_user_s = end.ru_utime - start.ru_utime
        loop_cpu.agent_system_s = end.ru_stime - start.ru_stime
        loop_cpu.agent_context_switches = (end.ru_nvcsw + end.ru_nivcsw) - (
            start.ru_nvcsw + start.ru_nivcsw
        )
