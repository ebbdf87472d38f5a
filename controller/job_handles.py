"""Job handles the API returns: ``Job`` and one class per kind, as the cloud client has them.

A handle reads its state from the store on every call, so any process sharing
the store sees the same job. The client's failure semantics hold: ``wait(timeout)``
raises ``TimeoutError`` when the job is still running at the deadline; the
downloads of a failed job return what the client's do (``{}`` for a profile,
``None`` for outputs and target models) and never raise.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, overload

import numpy as np

from controller.devices import Device
from controller.errors import InternalError
from controller.events import events_from_stored
from controller.h5_data import output_path, write_h5
from controller.job_status import JobStatus, JobType, QuantizeDtype
from controller.jobs import JobState
from controller.managed import Dataset, Model, read_io
from controller.profile_result import Partial, ProfileResult, is_profile_dict
from controller.results import result_from_events
from controller.specs import input_specs
from controller.store import JobRecord, Store

__all__ = [
    "CompileJob",
    "CompileJobResult",
    "InferenceJob",
    "InferenceJobResult",
    "Job",
    "JobResult",
    "LinkJob",
    "ProfileJob",
    "ProfileJobResult",
    "QuantizeJob",
    "QuantizeJobResult",
    "devicelab_version",
    "job_handle",
]

# A wait() wakes when this process moves a job (an in-process worker ending it:
# controller/store/_changes.py); a move by a worker in another process is seen this often.
WAIT_POLL_SEC = 0.1


def devicelab_version() -> str:
    """The installed devicelab's version (``hub.__version__``, ``Job.hub_version``)."""
    try:
        return metadata.version("devicelab")
    except metadata.PackageNotFoundError:  # run from a source tree without installing
        return "0.0.0"


@dataclass
class JobResult:
    """What ``download_results(artifacts_dir)`` returns: status, report URL, the folder."""

    status: JobStatus
    url: str | None
    artifacts_dir: str | None


@dataclass
class InferenceJobResult(JobResult):
    """An inference job's results; ``output_data`` is a devicelab extension."""

    profile: dict[str, Any] | None = None
    output_data: dict[str, list[np.ndarray]] | None = None


@dataclass
class ProfileJobResult(InferenceJobResult):
    """A profile job's results; ``profile`` is None unless it succeeded.

    An ``InferenceJobResult`` (``output_data`` None): in the client 0.56
    ``ProfileJobResult`` is ``InferenceJobResult``, and scripts check for that."""


@dataclass
class CompileJobResult(JobResult):
    """A compile job's results; ``target_model`` and ``notes`` are devicelab extensions."""

    target_model: Model | None = None
    notes: tuple[str, ...] = ()


@dataclass
class QuantizeJobResult(CompileJobResult):
    """A quantize job's results (its target model is a QDQ ONNX model)."""


class Job:
    """Job for a model and a device."""

    job_type = "job"
    _job_type = JobType.UNSPECIFIED

    def __init__(self, store: Store, record: JobRecord) -> None:
        self._store = store
        self.job_id = record.id
        self.name = record.name
        self.date = record.created_at
        self.options = record.options
        self.device = Device.from_filter(record.device_filter)
        self.hub_version = devicelab_version()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(job_id={self.job_id!r}, name={self.name!r})"

    @property
    def _owner(self) -> Any:
        """The client the job belongs to (the cloud client's ``job._owner``; scripts read
        ``job._owner.config``): every devicelab client shares the one store."""
        from controller.client import Client  # controller.client imports the API, this module

        return Client()

    @property
    def model(self) -> Model:
        """The model the job runs (or compiles)."""
        return Model._from(self._store, self._store.get_model(self._record().model_id))

    @property
    def url(self) -> str:
        """The job's page: on the lab's web page while ``devicelab serve`` shows this
        store (or ``DEVICELAB_WEB_URL`` names one), else a ``file://`` page written now."""
        from controller.web import job_page_url  # the web package reads jobs through here

        served = job_page_url(self.job_id, self._store.location)
        if served is not None:
            return served
        path = self._store.root.parent / "reports" / f"{self.job_id}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        result = self._store.get_result(self.job_id)
        if is_profile_dict(result):
            from controller.reports import write_html_report

            write_html_report(result, path, title=f"{self.name} ({self.job_id})")
        else:
            path.write_text(self._status_page(result), encoding="utf-8")
        return path.resolve().as_uri()

    def _status_page(self, result: dict[str, Any] | None) -> str:
        status = self.get_status()
        rows = {"job": self.job_id, "type": self.job_type, "name": self.name}
        rows |= {"state": status.code, "message": status.message or ""}
        cells = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in rows.items()
        )
        detail = html.escape(json.dumps(result, indent=2, default=str)) if result else ""
        return (
            f"<!doctype html><meta charset=utf-8><title>{html.escape(self.job_id)}</title>"
            f"<table>{cells}</table><pre>{detail}</pre>"
        )

    def set_name(self, job_name: str) -> None:
        """Rename the job."""
        self._store.rename_job(self.job_id, job_name)
        self.name = job_name

    def _record(self) -> JobRecord:
        return self._store.get_job(self.job_id)

    def get_status(self) -> JobStatus:
        """The job's status now."""
        record = self._record()
        return JobStatus(record.state, record.message)

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the job ends; return its final status.

        Raises:
            TimeoutError: ``timeout`` seconds passed and the job is still running
                (it keeps running; wait again or ``cancel()``).
        """
        # As the client: a falsy timeout (None or 0) waits as long as the job runs.
        deadline = time.monotonic() + timeout if timeout else None
        seen = self._store.job_moves
        while not (status := self.get_status()).finished:
            sleep_s = WAIT_POLL_SEC
            if deadline is not None:
                sleep_s = min(sleep_s, deadline - time.monotonic())
                if sleep_s <= 0:
                    raise TimeoutError(
                        f"Waiting for {self.job_type} job ({self.job_id}) completion timed out"
                        f" after {timeout} seconds."
                    )
            seen = self._store.wait_for_job_move(seen, sleep_s)
        return status

    def cancel(self) -> bool:
        """Stop the job; it ends FAILED with message 'cancelled'. False if it had ended."""
        record = self._record()
        if record.finished:
            return False
        self._store.transition(self.job_id, JobState.FAILED, "cancelled by the user")
        return True

    def _artifacts_dir(self, artifacts_dir: str | Path | None) -> Path | None:
        if artifacts_dir is None:
            return None
        path = Path(artifacts_dir).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def download_results(self, artifacts_dir: str | Path | None = None) -> JobResult:
        """The job's results; files go into ``artifacts_dir`` (created if missing)."""
        folder = self._artifacts_dir(artifacts_dir)
        return JobResult(self.wait(), self.url, str(folder) if folder else None)


def _write_json(profile: dict[str, Any], target: Path, default_name: str) -> str:
    target = output_path(target, default_name, ".json")
    # The client's tuples become JSON lists, as its own json.dump makes them.
    target.write_text(json.dumps(profile), encoding="utf-8")
    return str(target)


class ProfileJob(Job):
    """Profile job for a model, a set of input specs, and a device."""

    job_type = "profile"
    _job_type = JobType.INFERENCE  # the client's profile jobs are inference jobs
    profiling = True

    @overload
    def download_profile(self, filename: None = None) -> dict[str, Any]: ...
    @overload
    def download_profile(self, filename: str | Path) -> dict[str, Any] | str: ...

    def download_profile(self, filename: str | Path | None = None) -> dict[str, Any] | str:
        """The profile dict (``execution_summary``, ``execution_detail``, ``devicelab``).

        Waits for the job. With ``filename`` (a ``.json`` file or a directory) the
        profile is written there and the path returned. A failed job gives ``{}``
        (as the client); ``partial_profile()`` keeps what it measured.
        """
        if not self.wait().success:
            return {}
        result = self._store.get_result(self.job_id)
        if result is None:
            raise InternalError(f"job {self.job_id} succeeded without a result")
        profile = ProfileResult.from_dict(result).to_dict()
        if filename is None:
            return profile
        return _write_json(profile, Path(filename), f"{self.name}_{self.job_id}_results.json")

    def partial_profile(self) -> dict[str, Any] | None:
        """Whatever was measured, even for a failed or running job (devicelab extension).

        ``profile_result()`` as the dict ``download_profile()`` gives; None when
        nothing was measured.
        """
        result = self.profile_result()
        return None if result is None else result.to_dict()

    def profile_result(self) -> ProfileResult | None:
        """What the job measured, typed, without waiting (devicelab extension).

        The stored result or, when the job ended before storing one (agent killed,
        connection lost, worker crashed, cancelled while its CLI exited), the result
        its stored events make. Unless the job succeeded, ``partial`` says so: the
        job's state and why it ended. None when nothing was measured.
        """
        record = self._record()
        stored = self._store.get_result(self.job_id)
        result = (
            ProfileResult.from_dict(stored)
            if stored is not None
            else self._result_from_events(record.attempt)
        )
        if result is None:
            return None
        if record.state is not JobState.SUCCESS:
            status = JobStatus(record.state, record.message)
            result.partial = Partial(status.code, status.message or status.label)
        return result

    def _result_from_events(self, attempt: int) -> ProfileResult | None:
        # A job re-run after a crash streams again as a new attempt, and a crash can come
        # before the first event: the latest attempt that streamed anything is what ran last.
        for run in range(attempt, -1, -1):
            records = self._store.events(self.job_id, attempt=run)
            if records:
                stored = ((r.kind, r.payload) for r in records)
                result = result_from_events(events_from_stored(stored))
                result.context.update(job_id=self.job_id, attempt=run, events=len(records))
                return result
        return None

    def get_output_dataset(self) -> Dataset | None:
        """None: a profile job runs on random inputs and keeps no outputs (as the client)."""
        self.wait()
        return None

    def download_output_data(self, filename: str | Path | None = None) -> None:
        """None: a profile job runs on random inputs and keeps no outputs (as the client)."""
        self.wait()
        return None

    def download_results(self, artifacts_dir: str | Path | None = None) -> ProfileJobResult:
        """Status, report URL and the profile (also written into ``artifacts_dir``)."""
        folder = self._artifacts_dir(artifacts_dir)
        profile = self.download_profile()
        if profile and folder is not None:
            _write_json(profile, folder, f"{self.name}_{self.job_id}_results.json")
        return ProfileJobResult(
            self.get_status(), self.url, str(folder) if folder else None, profile or None
        )


class InferenceJob(Job):
    """Inference job for a model, user provided inputs, and a device."""

    job_type = "inference"
    _job_type = JobType.INFERENCE
    profiling = False

    @property
    def inputs(self) -> Dataset:
        """The uploaded inputs."""
        record = self._record()
        assert record.dataset_id is not None
        return Dataset._from(self._store, self._store.get_dataset(record.dataset_id))

    def get_output_dataset(self) -> Dataset | None:
        """The outputs as a ``Dataset`` (made on first call), None if the job failed."""
        if not self.wait().success:
            return None
        result = self._store.get_result(self.job_id) or {}
        if "output_dataset_id" not in result:
            data = self._store.get_output_data(self.job_id)
            if data is None:
                raise InternalError(f"job {self.job_id} succeeded without output data")
            record = self._store.add_dataset(data, name=f"outputs of {self.job_id}")
            result = {**result, "output_dataset_id": record.id}
            self._store.set_result(self.job_id, result)
        return Dataset._from(self._store, self._store.get_dataset(result["output_dataset_id"]))

    @overload
    def download_output_data(self, filename: None = None) -> dict[str, list[np.ndarray]] | None: ...
    @overload
    def download_output_data(self, filename: str | Path) -> str | None: ...

    def download_output_data(
        self, filename: str | Path | None = None
    ) -> dict[str, list[np.ndarray]] | str | None:
        """Outputs as name -> list of arrays (one per input sample), or written to
        ``filename`` (``.h5``, or a directory) and its path returned; None if the job failed.
        """
        if not self.wait().success:
            return None
        data = self._store.get_output_data(self.job_id)
        if data is None:
            raise InternalError(f"job {self.job_id} succeeded without output data")
        if filename is None:
            return data
        target = output_path(filename, f"{self.name}_{self.job_id}_output.h5", ".h5")
        write_h5(data, target)
        return str(target)

    def download_profile(self, filename: str | Path | None = None) -> dict[str, Any]:
        """``{}``: inference jobs here run without profiling (submit a profile job for that)."""
        self.wait()
        return {}

    def download_results(self, artifacts_dir: str | Path | None = None) -> InferenceJobResult:
        """Status, report URL and outputs (also written into ``artifacts_dir``)."""
        folder = self._artifacts_dir(artifacts_dir)
        data = self.download_output_data()
        if data is not None and folder is not None:
            self.download_output_data(folder)
        return InferenceJobResult(
            self.get_status(), self.url, str(folder) if folder else None, None, data
        )


class CompileJob(Job):
    """Compile job for a model, a set of input specs, and a device."""

    job_type = "compile"
    _job_type = JobType.COMPILE

    def get_target_model(self) -> Model | None:
        """The compiled model once the job succeeded (None if it failed); waits."""
        if not self.wait().success:
            return None
        result = self._store.get_result(self.job_id) or {}
        return Model._from(self._store, self._store.get_model(result["target_model_id"]))

    def download_target_model(self, filename: str | Path) -> str | None:
        """Write the compiled model to ``filename`` (or into a directory); None if it failed."""
        model = self.get_target_model()
        return None if model is None else model.download(filename)

    @property
    def shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """The input specs the model is compiled with (the client's ``shapes``): those
        given at submit, else the source model's own ({} where this host cannot read
        them, e.g. TorchScript without ``input_specs``)."""
        given = self._record().spec.get("input_specs") or {}
        if given:
            return {name: (tuple(shape), dtype) for name, (shape, dtype) in given.items()}
        io = read_io(self._store, self._record().model_id)
        return {} if io is None else input_specs(io[0])

    @property
    def target_shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """The compiled model's input specs ({} if the job failed); waits."""
        return self.get_target_shapes() or {}

    def get_target_shapes(
        self, timeout: float | None = None
    ) -> dict[str, tuple[tuple[int, ...], str]] | None:
        """The compiled model's input specs (name -> (shape, dtype)); None if it failed."""
        if not self.wait(timeout).success:
            return None
        model = self.get_target_model()
        io = None if model is None else read_io(self._store, model.model_id)
        return None if io is None else input_specs(io[0])

    def download_results(self, artifacts_dir: str | Path | None = None) -> CompileJobResult:
        """Status, report URL, the target model (also written into ``artifacts_dir``), notes."""
        folder = self._artifacts_dir(artifacts_dir)
        target = self.get_target_model()
        if target is not None and folder is not None:
            target.download(folder)
        result = self._store.get_result(self.job_id) or {}
        return CompileJobResult(
            self.get_status(),
            self.url,
            str(folder) if folder else None,
            target,
            tuple(result.get("notes", ())),
        )


class QuantizeJob(CompileJob):
    """Quantize job: an ONNX model to QDQ ONNX, calibrated on a dataset, run on this host."""

    job_type = "quantize"
    _job_type = JobType.QUANTIZE

    @property
    def weights_dtype(self) -> QuantizeDtype:
        """The type weights are quantized to."""
        return QuantizeDtype[self._record().spec["weights_dtype"]]

    @property
    def activations_dtype(self) -> QuantizeDtype:
        """The type activations are quantized to."""
        return QuantizeDtype[self._record().spec["activations_dtype"]]

    @property
    def calibration_dataset(self) -> Dataset:
        """The dataset the quantization ranges were calibrated on."""
        dataset_id = self._record().dataset_id
        assert dataset_id is not None  # submit_quantize_job always stores one
        return Dataset._from(self._store, self._store.get_dataset(dataset_id))

    def download_target_model(self, filename: str | Path | None = None) -> Any:
        """Write the quantized model to ``filename`` and return the path; without one,
        the ``onnx.ModelProto`` (as the client). None if the job failed."""
        model = self.get_target_model()
        if model is None or filename is not None:
            return None if model is None else model.download(filename)  # type: ignore[arg-type]
        import onnx

        return onnx.load(str(self._store.artifact_path(model.sha256)))

    def download_results(self, artifacts_dir: str | Path | None = None) -> QuantizeJobResult:
        """Status, report URL, the target model (also written into ``artifacts_dir``)."""
        base = super().download_results(artifacts_dir)
        return QuantizeJobResult(**vars(base))


class LinkJob(CompileJob):
    """Link job: QNN DLC models linked into one QNN context binary (``controller.link_jobs``)."""

    job_type = "link"
    _job_type = JobType.LINK

    @property
    def models(self) -> list[Model]:
        """The models linked (the source models of the job)."""
        ids = self._record().spec.get("model_ids") or [self._record().model_id]
        return [Model._from(self._store, self._store.get_model(i)) for i in ids]


_JOB_CLASSES: dict[str, type[Job]] = {
    "profile": ProfileJob,
    "inference": InferenceJob,
    "compile": CompileJob,
    "quantize": QuantizeJob,
    "link": LinkJob,
}


def job_handle(store: Store, record: JobRecord) -> Job:
    """The handle for a stored job (quantize jobs are compile jobs marked in their spec)."""
    return _JOB_CLASSES[record.spec.get("job_type") or record.kind](store, record)
