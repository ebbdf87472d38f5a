"""The typed profile result and the public events, from a real job on this host's agent.

A listener gets the job's handle and ``controller.events`` objects; the profile a
script downloads is ``ProfileResult.to_dict()``, and a stored result reads back
into the same ``ProfileResult`` it was written from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import controller as hub
from controller.api import current_store, wait_for_callbacks
from controller.events import (
    AppliedSettings,
    Finished,
    IterationTimes,
    LayerIteration,
    LoadDone,
    ProfileEvent,
    StageStarted,
    event_from_proto,
    events_from_stored,
)
from controller.profile_result import ProfileResult
from protos import agent_pb2 as pb

TIMEOUT_SEC = 240
FIVE_ITERATIONS = "--compute_unit cpu --max_profiler_iterations 5"


@pytest.fixture(scope="module")
def followed(models_dir: Path) -> tuple[hub.ProfileJob, list[tuple[Any, ProfileEvent]]]:
    """A profile job run to its end, and what its listener was called with."""
    calls: list[tuple[Any, ProfileEvent]] = []
    job = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx",
        options=FIVE_ITERATIONS,
        listener=lambda job, event: calls.append((job, event)),
    )
    assert isinstance(job, hub.ProfileJob)
    assert job.wait(TIMEOUT_SEC).success
    wait_for_callbacks(job.job_id)
    return job, calls


def test_a_listener_gets_the_jobs_handle_and_domain_events_in_order(
    followed: tuple[hub.ProfileJob, list[tuple[Any, ProfileEvent]]],
) -> None:
    job, calls = followed
    assert {type(handle) for handle, _ in calls} == {hub.ProfileJob}
    assert {handle.job_id for handle, _ in calls} == {job.job_id}
    events = [event for _, event in calls]
    assert isinstance(events[0], StageStarted) and events[0].stage == "first_load"
    assert isinstance(events[-1], Finished) and events[-1].iterations == 5
    stages = [e.stage for e in events if isinstance(e, StageStarted)]
    assert stages[:2] == ["first_load", "warm_load"] and "inference" in stages
    loads = {e.stage: e for e in events if isinstance(e, LoadDone)}
    assert loads["first_load"].time_us > 0 and loads["warm_load"].time_us > 0
    batches = [e for e in events if isinstance(e, IterationTimes)]
    assert [b.first_index for b in batches] == [
        sum(len(b.latencies_us) for b in batches[:i]) for i in range(len(batches))
    ]
    applied = next(e for e in events if isinstance(e, AppliedSettings))
    assert applied.runtime and applied.inputs[0].name == "image"


def test_the_listeners_events_are_what_the_store_replays(
    followed: tuple[hub.ProfileJob, list[tuple[Any, ProfileEvent]]],
) -> None:
    job, calls = followed
    stored = current_store().events(job.job_id)
    replayed = list(events_from_stored((e.kind, e.payload) for e in stored))
    assert replayed == [event for _, event in calls]
    assert [event.kind for event in replayed] == [e.kind for e in stored if e.kind != "push"]


def test_the_downloaded_profile_is_the_typed_results_dict(
    followed: tuple[hub.ProfileJob, list[tuple[Any, ProfileEvent]]], tmp_path: Path
) -> None:
    job, calls = followed
    profile = job.profile_result()
    assert profile is not None and profile.partial is None
    latencies = [t for _, e in calls if isinstance(e, IterationTimes) for t in e.latencies_us]
    assert profile.inference_times_us == latencies
    assert profile.iterations == 5 and profile.stop_reason == "max_iterations"
    assert profile.latency_stats is not None
    assert profile.median_us == profile.latency_stats.median
    profiled = [e for _, e in calls if isinstance(e, LayerIteration)]
    assert profile.layer_profile_iterations == len(profiled) > 0
    assert [layer.name for layer in profile.layers] == [layer.name for layer in profiled[0].layers]
    downloaded = job.download_profile()
    assert downloaded == profile.to_dict()
    assert downloaded["execution_summary"]["inference_memory_peak_range"] == (
        profile.inference_peak_memory_bytes,
        profile.inference_peak_memory_bytes,
    )
    path = job.download_profile(tmp_path / "p.json")
    assert isinstance(path, str)
    written = json.loads(Path(path).read_text())
    assert ProfileResult.from_dict(written) == profile


def test_a_stored_result_reads_back_into_the_result_it_was_written_from(
    followed: tuple[hub.ProfileJob, list[tuple[Any, ProfileEvent]]],
) -> None:
    job, _ = followed
    stored = current_store().get_result(job.job_id)
    assert stored is not None
    profile = ProfileResult.from_dict(stored)
    assert profile.to_stored() == stored
    assert profile.context["job_id"] == job.job_id and profile.device == "local"


def test_a_cloud_services_profile_reads_with_what_it_has() -> None:
    cloud = {
        "execution_summary": {
            "estimated_inference_time": 1234,
            "estimated_inference_peak_memory": 9_000_000,
            "first_load_time": 50_000,
            "first_load_peak_memory": 20_000_000,
            "inference_memory_increase_range": (100, 300),
            "all_inference_times": [1200, 1234, 1300],
        },
        "execution_detail": [
            {"name": "conv", "type": "Conv", "compute_unit": "NPU", "execution_time": 800}
        ],
    }
    profile = ProfileResult.from_dict(cloud)
    assert profile.median_us == 1234.0 and profile.iterations == 3
    assert profile.first_load is not None and profile.first_load.time_us == 50_000
    assert profile.warm_load is None and profile.applied is None
    assert profile.inference_memory_increase_bytes == 300  # the upper end of the range
    assert profile.layers[0].compute_unit == "NPU" and profile.layers[0].execution_cycles is None


def test_an_event_the_controller_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown profile event"):
        event_from_proto(pb.ProfileEvent())
    beat = event_from_proto(pb.ProfileEvent(heartbeat=pb.Heartbeat(process_state="running")))
    assert beat.kind == "heartbeat" and beat.process_state == "running"  # type: ignore[union-attr]
