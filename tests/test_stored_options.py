"""A job's options are parsed once, at submit: the worker runs the stored canonical form.

Jobs are put in a real store the way a submit does (``Options.to_spec()`` under the
spec's ``OPTIONS_SPEC_KEY``) and run by a real worker on this host's agent over gRPC.
The option text stored beside them deliberately says something else: the job runs
with the stored values, so the runner cannot have parsed the text again. A job
stored the older way (text only) still runs, its text parsed by the runner.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.devices import Device, DeviceRegistry
from controller.options import OPTIONS_SPEC_KEY, parse_options
from controller.store import JobRecord, Store
from controller.transports.local import LocalDiscovery
from controller.worker import Worker

TIMEOUT_SEC = 120


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Store, dict[str, Any]]]:
    """A private store with a running worker; and the device filter of this host."""
    store = Store(tmp_path / "store")
    registry = DeviceRegistry(discoveries=[LocalDiscovery()])
    worker = Worker(store, registry).start()
    try:
        yield store, registry.job_filter(Device("local"))
    finally:
        worker.stop()
        registry.close()


def _finished(store: Store, job: JobRecord) -> JobRecord:
    deadline = time.monotonic() + TIMEOUT_SEC
    while not (job := store.get_job(job.id)).finished:
        assert time.monotonic() < deadline, f"job {job.id} still {job.state.value}"
        time.sleep(0.05)
    return job


def test_a_profile_job_runs_the_options_stored_at_submit_not_its_text(
    lab: tuple[Store, dict[str, Any]], models_dir: Path
) -> None:
    store, local = lab
    model = store.add_model(models_dir / "tiny_cnn.onnx")
    submitted = parse_options(
        "--compute_unit cpu --max_profiler_iterations 3", job="profile", target_runtime="onnx"
    )
    job = store.create_job(
        "profile",
        model.id,
        device_filter=local,
        options="--compute_unit cpu --max_profiler_iterations 7",  # not what runs
        spec={"input_specs": {}, OPTIONS_SPEC_KEY: submitted.to_spec()},
    )
    job = _finished(store, job)
    assert job.state.value == "success", job.message
    result = store.get_result(job.id)
    assert len(result["execution_summary"]["all_inference_times"]) == 3
    assert result["devicelab"]["options"]["requested"] == submitted.requested


def test_a_job_stored_without_its_canonical_options_parses_its_text(
    lab: tuple[Store, dict[str, Any]], models_dir: Path
) -> None:
    store, local = lab
    model = store.add_model(models_dir / "tiny_cnn.onnx")
    options = "--compute_unit cpu --max_profiler_iterations 5"
    job = store.create_job("profile", model.id, device_filter=local, options=options)
    job = _finished(store, job)
    assert job.state.value == "success", job.message
    result = store.get_result(job.id)
    assert len(result["execution_summary"]["all_inference_times"]) == 5
    assert result["devicelab"]["options"]["requested"] == options


def test_an_inference_job_runs_the_options_stored_at_submit_not_its_text(
    lab: tuple[Store, dict[str, Any]], models_dir: Path
) -> None:
    store, local = lab
    model = store.add_model(models_dir / "tiny_cnn.onnx")
    dataset = store.add_dataset({"image": [np.zeros((1, 3, 32, 32), np.float32)]})
    submitted = parse_options("--compute_unit cpu", job="inference", target_runtime="onnx")
    job = store.create_job(
        "inference",
        model.id,
        dataset_id=dataset.id,
        device_filter=local,
        options="--compute_unit gpu",  # not what runs
        spec={OPTIONS_SPEC_KEY: submitted.to_spec()},
    )
    job = _finished(store, job)
    assert job.state.value == "success", job.message
    effective = store.get_result(job.id)["devicelab"]["options"]["effective"]
    assert effective["compute_unit"] == ["cpu"]
