"""A ``Lab`` of one's own, and the module functions as the default lab's methods.

A script that wants a second store (a lab's shared one beside a private one) makes a
``Lab``; the module functions keep working on the default lab.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import controller as hub

TIMEOUT_SEC = 240
QUICK = "--compute_unit cpu --max_profiler_iterations 3"


def test_a_lab_of_its_own_keeps_its_jobs_in_its_own_store(tmp_path: Path, models_dir: Path) -> None:
    # The process's devices, shared: one local agent serves both labs.
    with hub.Lab(store=tmp_path / "store", registry=hub.api.current_registry()) as lab:
        job = lab.submit_profile_job(
            models_dir / "tiny_cnn.onnx", hub.Device("local"), options=QUICK
        )
        assert isinstance(job, hub.ProfileJob)
        assert job.wait(TIMEOUT_SEC).success
        assert [j.job_id for j in lab.get_jobs()] == [job.job_id]
        assert len(job.download_profile()["execution_summary"]["all_inference_times"]) == 3
    assert job.job_id not in {j.job_id for j in hub.get_jobs(limit=500)}
    assert hub.get_devices(name="local")  # closing the lab left the shared registry open


def test_a_list_of_devices_keeps_the_listener_and_upload_progress(models_dir: Path) -> None:
    seen: dict[str, int] = {}

    def listener(job: Any, event: Any) -> None:
        seen[job.job_id] = seen.get(job.job_id, 0) + 1

    jobs = hub.submit_profile_job(
        models_dir / "tiny_cnn.onnx",
        [hub.Device("local"), hub.Device("local")],
        options=QUICK,
        listener=listener,
    )
    assert isinstance(jobs, list) and len(jobs) == 2
    for job in jobs:
        assert job.wait(TIMEOUT_SEC).success
        hub.api.wait_for_callbacks(job.job_id)
    assert set(seen) == {job.job_id for job in jobs}  # every job's events reached it


def test_module_functions_are_the_default_labs_methods() -> None:
    for name in ("upload_model", "submit_profile_job", "get_jobs", "submit_quantize_job"):
        function, method = getattr(hub, name), getattr(hub.Lab, name)
        assert function.__doc__ == method.__doc__
        assert function.__module__ == "controller.api"
        method_params = list(inspect.signature(method).parameters)
        assert list(inspect.signature(function).parameters) == method_params[1:]
