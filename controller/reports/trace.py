"""A profile result as a Chrome Trace Event Format file (opens in Perfetto, chrome://tracing).

    >>> write_chrome_trace(job.download_profile(), Path("profile.trace.json"))  # doctest: +SKIP
    PosixPath('profile.trace.json')

The agent reports durations, not timestamps, so the timeline is rebuilt in the
order the agent runs its stages, back to back from t=0: load stages, the timed
loop (one slice per iteration, or per run of them past ``LOOP_SLICES_MAX``), then
the layer-profile runs. The layers are laid out one after another from the start
of the first profiled run, each on the track of its compute unit, so NPU <-> CPU
hand-offs show as a staircase. Their durations are the per-layer aggregate of all
profiled runs (``args`` says so).

Format: the JSON Object Format (``traceEvents`` plus ``displayTimeUnit`` and
``otherData``), with complete events (``ph: "X"``, ``ts``/``dur`` in µs) and
metadata events (``ph: "M"``) naming and ordering the tracks. Slices on one track
never overlap, which Perfetto's JSON importer requires.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from contract.layers import LayerTiming
from controller.profile_result import Load, ProfileResult
from controller.reports._format import units_in_order

PID = 1
#: Above this many timed iterations a loop slice covers a run of them (min, median and
#: max in its args): at ~160 bytes a slice, 365k iterations made a 57 MB trace that
#: trace viewers load slowly or not at all; the result keeps every latency.
LOOP_SLICES_MAX = 10_000
# Track ids in display order; compute-unit tracks follow from _UNIT_TID0 on. None
# equals PID: Perfetto would take that track for the process's main thread.
TID_LOADS, TID_LOOP, TID_PROFILED = 2, 3, 4
_UNIT_TID0 = 10


def write_chrome_trace(result: ProfileResult | dict[str, Any], path: Path) -> Path:
    """Write ``result`` as a trace to ``path`` (parents created); returns ``path``.

    Example:
        >>> write_chrome_trace(result, Path("out/job.trace.json"))  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # allow_nan=False: NaN is not JSON, and trace viewers reject the whole file.
    path.write_text(json.dumps(chrome_trace(result), allow_nan=False), encoding="utf-8")
    return path


def chrome_trace(result: ProfileResult | dict[str, Any]) -> dict[str, Any]:
    """The trace document for ``result`` (what ``write_chrome_trace`` serialises)."""
    profile = ProfileResult.of(result)
    layers = profile.layers
    unit_tids = {u: _UNIT_TID0 + i for i, u in enumerate(_units(layers))}
    load_events, cursor = _load_events(profile, 0)
    loop_events, cursor = _loop_events([float(t) for t in profile.inference_times_us], cursor)
    profiled_events, _ = _profiled_run_events(profile.layer_profile_wall_times_us, cursor)
    events = [
        *_metadata_events(profile.context, unit_tids),
        *load_events,
        *loop_events,
        *profiled_events,
        *_layer_events(profile, unit_tids, cursor),
    ]
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": _other_data(profile)}


def _unit(layer: LayerTiming) -> str:
    return layer.compute_unit or "?"


def _units(layers: list[LayerTiming]) -> list[str]:
    return units_in_order({_unit(entry) for entry in layers})


def _ns(us: Any) -> int:
    """Microseconds to whole nanoseconds, the resolution trace viewers store.

    The timeline is summed in integers so a slice ends exactly where the next one
    starts: float sums drift, and a 1 ns overlap breaks a track's nesting.
    """
    return max(0, round(float(us) * 1000))


def _complete(
    name: str, cat: str, tid: int, ts_ns: int, dur_ns: int, args: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "cat": cat,
        "ph": "X",
        "ts": ts_ns / 1000,  # the format's unit is µs
        "dur": dur_ns / 1000,
        "pid": PID,
        "tid": tid,
        "args": args,
    }


def _metadata(name: str, tid: int | None, args: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"name": name, "ph": "M", "pid": PID, "args": args}
    if tid is not None:
        event["tid"] = tid
    return event


def _metadata_events(extra: dict[str, Any], unit_tids: dict[str, int]) -> list[dict[str, Any]]:
    label = " · ".join(str(extra[k]) for k in ("device", "job_id") if extra.get(k))
    tracks = {
        TID_LOADS: "load stages",
        TID_LOOP: "timed loop (profiler off)",
        TID_PROFILED: "layer-profile runs",
    }
    tracks.update({tid: f"{unit} layers" for unit, tid in unit_tids.items()})
    name = f"devicelab · {label}" if label else "devicelab"
    events = [_metadata("process_name", None, {"name": name})]
    for order, (tid, name) in enumerate(tracks.items()):
        events.append(_metadata("thread_name", tid, {"name": name}))
        events.append(_metadata("thread_sort_index", tid, {"sort_index": order}))
    return events


def _load_events(profile: ProfileResult, start_ns: int) -> tuple[list[dict[str, Any]], int]:
    events, cursor = [], start_ns
    loads: tuple[tuple[str, Load | None], ...] = (
        ("first load", profile.first_load),
        ("warm load", profile.warm_load),
    )
    for stage, load in loads:
        if load is None:
            continue
        time_us = float(load.time_us)
        args = {"time_us": time_us, "peak_memory_bytes": load.peak_memory_bytes}
        events.append(_complete(stage, "load", TID_LOADS, cursor, _ns(time_us), args))
        cursor += _ns(time_us)
    return events, cursor


def _loop_events(latencies: list[float], start_ns: int) -> tuple[list[dict[str, Any]], int]:
    """One slice per iteration; past ``LOOP_SLICES_MAX`` iterations, one per run of them."""
    per_slice = max(1, math.ceil(len(latencies) / LOOP_SLICES_MAX))
    if per_slice > 1:
        return _loop_runs(latencies, start_ns, per_slice)
    events, cursor = [], start_ns
    for index, latency in enumerate(latencies):
        args = {"iteration": index, "latency_us": latency}
        name = f"inference {index}"
        events.append(_complete(name, "inference", TID_LOOP, cursor, _ns(latency), args))
        cursor += _ns(latency)
    return events, cursor


def _loop_runs(
    latencies: list[float], start_ns: int, per_slice: int
) -> tuple[list[dict[str, Any]], int]:
    # The run's duration is the sum of its iterations' (in ns, as above), so the loop
    # ends exactly where one slice per iteration would have ended it.
    events, cursor = [], start_ns
    for first in range(0, len(latencies), per_slice):
        run = latencies[first : first + per_slice]
        last = first + len(run) - 1
        args = {
            "iterations": f"{first}-{last}",
            "count": len(run),
            "min_latency_us": min(run),
            "median_latency_us": statistics.median(run),
            "max_latency_us": max(run),
        }
        duration = sum(_ns(latency) for latency in run)
        events.append(
            _complete(f"inferences {first}-{last}", "inference", TID_LOOP, cursor, duration, args)
        )
        cursor += duration
    return events, cursor


def _profiled_run_events(wall_times: list[int], start_ns: int) -> tuple[list[dict[str, Any]], int]:
    events, cursor = [], start_ns
    for index, wall in enumerate(wall_times):
        args = {"profiled_run": index, "wall_time_us": wall}
        name = f"profiled run {index}"
        events.append(_complete(name, "layer_profile", TID_PROFILED, cursor, _ns(wall), args))
        cursor += _ns(wall)
    return events, cursor


def _layer_events(
    profile: ProfileResult, unit_tids: dict[str, int], start_ns: int
) -> list[dict[str, Any]]:
    runs = profile.layer_profile_iterations
    aggregate = f"{profile.layer_aggregate} of {runs or 'the'} profiled run(s)"
    events, cursor = [], start_ns
    for index, entry in enumerate(profile.layers):
        unit = _unit(entry)
        args: dict[str, Any] = {
            "index": index,
            "type": entry.type,
            "compute_unit": unit,
            "execution_time_us": entry.execution_time_us,
            "aggregate": aggregate,
        }
        if entry.execution_cycles is not None:
            args["cycles"] = entry.execution_cycles
        duration = _ns(entry.execution_time_us)
        name = entry.name
        events.append(_complete(name, f"layer,{unit}", unit_tids[unit], cursor, duration, args))
        cursor += duration
    return events


def _other_data(profile: ProfileResult) -> dict[str, Any]:
    applied = profile.applied
    options = profile.context.get("options") or {}
    data = {
        "job_id": profile.job_id,
        "device": profile.device,
        "runtime": f"{applied.runtime} {applied.runtime_version}" if applied else "",
        "accelerators": ", ".join(applied.accelerators) if applied else "",
        "options": options.get("canonical") or options.get("requested"),
        "layout": "reconstructed from durations: stages back to back, gaps unknown",
    }
    # Trace viewers show otherData as a flat table: keep only what is set.
    return {key: str(value).strip() for key, value in data.items() if value}
