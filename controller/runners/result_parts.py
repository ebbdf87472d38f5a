"""What a runner adds to a job's result beyond the agent's measurements.

Who ran it where and with which options, whether the device was simulated, and the
lines a reader must not miss (``devicelab.warnings``; the CLI prints them loudly).
"""

from __future__ import annotations

from typing import Any

from controller.devices import DeviceEntry
from controller.devices.simulated import TWIN_OF_KEY, simulation_record
from controller.liveness import find_stalls, stall_warning
from controller.options import Options
from controller.profile_result import ProfileResult, applied_to_dict
from controller.qairt import qairt_warning
from controller.results import npu_unused_warning
from controller.store import JobRecord, ModelRecord


def profile_extras(
    job: JobRecord,
    model_id: str,
    model: ModelRecord,
    entry: DeviceEntry,
    options: Options,
    health: dict[str, Any],
) -> dict[str, Any]:
    """The ``devicelab`` keys of a profile result that the runner knows, not the agent."""
    return {
        "job_id": job.id,
        "device": entry.serial,
        "device_name": entry.name,
        "model": model.name,
        "model_id": model_id,
        "options": options.as_dict(),
        "device_health": health,
        "retries": job.retries,  # earlier runs its devices failed: [{device, reason, at}]
        **simulation(job, entry),
    }


def simulation(job: JobRecord, entry: DeviceEntry) -> dict[str, Any]:
    """``simulated`` on every result; what was simulated, and for whom, when it was."""
    if not entry.simulated or entry.profile is None:
        return {"simulated": False}
    twin_of = job.device_filter.get(TWIN_OF_KEY)
    return {"simulated": True, "simulation": simulation_record(entry.profile, twin_of)}


def with_stall_flags(result: ProfileResult) -> ProfileResult:
    """Pauses in the timed loop (a frozen-then-resumed agent) flagged, never silent."""
    stalls = find_stalls(result.inference_times_us, result.loop_time_s)
    if stalls is not None:
        result.context["stalls"] = stalls
        result.warnings.append(stall_warning(stalls))
    return result


def with_warnings(result: ProfileResult, options: Options) -> ProfileResult:
    """The NPU-unused and QAIRT-version warnings added to ``result.warnings``."""
    applied = applied_to_dict(result.applied) if result.applied else {}
    for warning in (
        npu_unused_warning(result, options.compute_unit),
        qairt_warning(options.qairt_version, applied),
    ):
        if warning is not None:
            result.warnings.append(warning)
    return result
