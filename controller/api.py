"""The public API (the seed service's "Core API"), for scripts written against the cloud.

    import controller as hub
    model = hub.upload_model("model.onnx")
    job = hub.submit_profile_job(model, hub.Device("Samsung Galaxy S23"),
                                 options="--max_profiler_iterations 50")
    profile = job.download_profile()
    profile["execution_summary"]["estimated_inference_time"]   # microseconds

Validation happens here, before a job exists: a bad option, model file, input
or device raises ``UserError`` and nothing is queued or run. Jobs live in the
store (``$DEVICELAB_HOME/store``); a worker runs them: when none serves the
store, submitting starts a detached worker daemon (``controller.daemon``), so
jobs run to the end after the script exits. ``DEVICELAB_WORKER=inprocess``
runs them in this process instead, ``none`` leaves them to ``devicelab worker``.
"""

from __future__ import annotations

import atexit
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from agent.formats import format_of_type
from controller import daemon
from controller.agent_client import ProgressCallback
from controller.devices import Device, DeviceRegistry
from controller.errors import UserError
from controller.input_specs import check_input_specs
from controller.job_follow import EventFollower, EventListener, follow
from controller.job_handles import CompileJob, InferenceJob, Job, ProfileJob, job_handle
from controller.job_status import JobType, job_kinds, store_state
from controller.lab_hosts import any_host_had, lab_devices
from controller.link_jobs import check_not_qnn_dlc
from controller.managed import Dataset, Model, dataset_entries
from controller.model_files import check_model_file, onnx_directory
from controller.model_io import check_inference_inputs, model_io
from controller.options import default_compile_target, parse_options
from controller.store import JobRecord, Store
from controller.worker import Worker, run_before_sigterm, stale_after_sec

_lock = threading.RLock()
_state: dict[str, Any] = {}
_verbose = False

ModelLike = Model | str | Path
InputSpecs = dict[str, Any]


def _store() -> Store:
    with _lock:
        if "store" not in _state:
            _state["store"] = Store.default()
        return _state["store"]  # type: ignore[no-any-return]


def _registry() -> DeviceRegistry:
    with _lock:
        if "registry" not in _state:
            _state["registry"] = DeviceRegistry()
        return _state["registry"]  # type: ignore[no-any-return]


def _ensure_worker() -> None:
    """Make sure a worker will run queued jobs (see ``controller.daemon`` for the modes)."""
    mode = daemon.worker_mode()
    if mode == "daemon":
        store = _store()  # a no-op while a worker serves the store:
        daemon.ensure_daemon(store.root, store.url)
    if mode != "inprocess":
        return
    with _lock:
        if "worker" not in _state:
            _state["worker"] = Worker(_store(), _registry(), _hooks).start()
            run_before_sigterm(_shutdown)  # hand its jobs back on SIGTERM too
        _state["worker"].wake()


class _JobHooks:
    """Per-job callbacks (events, upload progress) for jobs this process's worker runs."""

    def __init__(self) -> None:
        self.listeners: dict[str, EventListener] = {}
        self.progress: dict[str, ProgressCallback] = {}

    def listener(self, job: Any, event: Any) -> None:
        listener = self.listeners.get(job.id)
        if listener is not None:
            listener(job, event)

    def upload_progress(self, job_id: str) -> ProgressCallback | None:
        return self.progress.get(job_id)


_hooks = _JobHooks()
# Followers feeding listener / upload_progress from the store, by job id (other modes).
_followers: dict[str, EventFollower] = {}


def _attach_callbacks(
    job_id: str, listener: EventListener | None, upload_progress: ProgressCallback | None
) -> None:
    """Route a job's callbacks: direct from this process's worker, else from the store."""
    if daemon.worker_mode() == "inprocess":
        if listener is not None:
            _hooks.listeners[job_id] = listener
        if upload_progress is not None:
            _hooks.progress[job_id] = upload_progress
        return
    follower = follow(_store(), job_id, listener=listener, upload_progress=upload_progress)
    if follower is not None:
        _followers[job_id] = follower


def _drain_callbacks(job_id: str, timeout_sec: float = 10.0) -> None:
    """After the job ended: wait until its callbacks had every event (the CLI's order)."""
    follower = _followers.pop(job_id, None)
    if follower is not None:
        follower.join(timeout_sec)


def current_store() -> Store:
    """The store this process's API calls use (opened on first use; see ``set_store``).

    For thin layers over the API (the CLI, ``devicelab serve``) that list or change what
    the API does not expose as objects: device states, transitions, a job's record.
    """
    return _store()


def current_registry() -> DeviceRegistry:
    """The device registry this process's API calls use (for the same thin layers, and
    benchmarks that talk to a device's agent directly)."""
    return _registry()


def wait_for_callbacks(job_id: str, timeout_sec: float = 10.0) -> None:
    """After a job ended: wait until its ``listener`` / ``upload_progress`` callbacks saw
    every event, so a caller's last progress lines come before its result."""
    _drain_callbacks(job_id, timeout_sec)


def set_store(location: str | Path | None) -> None:
    """Use the store at ``location`` from now on in this process: a ``postgresql://``
    URL (a lab's shared store; artifacts stay under ``$DEVICELAB_HOME`` on this host),
    a store folder, or None for the default (``DEVICELAB_STORE``, else
    ``$DEVICELAB_HOME/store``). Jobs already submitted stay where they are.

    Example:
        hub.set_store("postgresql://lab@db-host/devicelab")
    """
    store = Store.default() if location is None else Store.open(location)
    with _lock:
        worker = _state.pop("worker", None)
        _state["store"] = store
    if worker is not None:  # it served the old store: hand its jobs back there
        worker.stop(timeout_sec=2.0, why="the process switched stores")


def set_verbose(verbose: bool = True) -> None:
    """If true, API calls may print progress to standard output."""
    global _verbose
    _verbose = verbose


JobT = TypeVar("JobT", bound=Job)


def _queued(kind: type[JobT], record: JobRecord) -> JobT:
    """The handle of a job just queued; wakes the worker; announces it if verbose."""
    _ensure_worker()
    job = kind(_store(), record)
    if _verbose:
        print(f"Scheduled {job.job_type} job ({job.job_id}) successfully.", flush=True)
    return job


# --- models and datasets ---------------------------------------------------------------


def upload_model(model: Any, name: str | None = None, project: Any = None) -> Model:
    """Check and store a model; returns the managed ``Model`` (``project`` is ignored).

    ``model`` is a path (``.tflite``, ``.onnx``, ``.bin``, ``.so``, ``.pt``, ``.pt2``), a
    TorchScript module (traced or scripted), a ``torch.export.ExportedProgram`` or an
    ``onnx.ModelProto``; the in-memory ones are saved as the cloud client saves them.
    """
    from controller.compile import upload_file  # imported on use: onnx costs ~75 ms

    with tempfile.TemporaryDirectory(prefix="devicelab-upload-") as tmp:
        staged = upload_file(model, Path(tmp), name)  # torch and ONNX objects, .pt, .pt2
        staged = staged or onnx_directory(Path(model), Path(tmp))  # model.onnx/ + .data
        path, model_type = staged or (Path(model), check_model_file(Path(model)))
        record = _store().add_model(path, name=name or path.name, model_type=model_type)
    return Model._from(_store(), record)


def get_model(model_id: str) -> Model:
    return Model._from(_store(), _store().get_model(model_id))


def get_models(offset: int = 0, limit: int = 50, project: Any = None) -> list[Model]:
    """Models, newest first (the client's argument order: offset, then limit)."""
    return [Model._from(_store(), r) for r in _store().list_models(limit, offset)]


def upload_dataset(
    data: dict[str, Any] | str | Path, name: str | None = None, project: Any = None
) -> Dataset:
    """Store a dataset (name -> list of arrays, one per sample, or an ``.h5`` file's path);
    it expires in 30 days."""
    return Dataset._from(_store(), _store().add_dataset(dataset_entries(data), name=name))


def get_dataset(dataset_id: str) -> Dataset:
    return Dataset._from(_store(), _store().get_dataset(dataset_id))


def get_datasets(offset: int = 0, limit: int = 50, project: Any = None) -> list[Dataset]:
    """Datasets, newest first (the client's argument order: offset, then limit)."""
    return [Dataset._from(_store(), r) for r in _store().list_datasets(limit, offset)]


def _host_job(
    model: Model,
    name: str | None,
    options: str,
    spec: dict[str, Any],
    dataset_id: str | None = None,
) -> JobRecord:
    """Queue a job the worker runs on this host (quantize, link): no device to wait for."""
    return _store().create_job(
        "compile",
        model.model_id,
        name=name,
        options=options,
        dataset_id=dataset_id,
        spec=spec,
    )


def _as_model(model: ModelLike) -> Model:
    return model if isinstance(model, Model) else upload_model(model)


# --- devices and jobs ------------------------------------------------------------------


def get_devices(name: str = "", os: str = "", attributes: str | Sequence[str] = ()) -> list[Device]:
    """Devices of the lab that match all given filters: the ones this controller reaches,
    and those of every other live host sharing its store (``Device.host`` says whose).

    Example:
        get_devices(attributes="framework:qnn")   # every device with a QNN backend
    """
    wanted = Device(name, os, attributes if isinstance(attributes, str) else tuple(attributes))
    entries = _registry().find(wanted) if (name or os or attributes) else _registry().entries()
    local = [entry.as_device() for entry in entries]
    return lab_devices(_store(), local, wanted, stale_after_sec())


def get_device_attributes() -> list[str]:
    """The super set of the attributes of every reachable device."""
    return sorted({attr for entry in _registry().entries() for attr in entry.attributes})


def get_job(job_id: str, job_type: JobType | None = None) -> Job:
    """The job with this id (``job_type`` is accepted as the client's and not needed)."""
    record = _store().get_job(job_id)
    if not record.finished and daemon.worker_mode() == "daemon":
        # A later script looking at an unfinished job: if its daemon died, start one.
        daemon.ensure_daemon(_store().root, _store().url)
    return job_handle(_store(), record)


def get_jobs(
    limit: int = 50, offset: int = 0, state: Any = None, type: str | None = None
) -> list[Job]:  # noqa: A002
    """Jobs, newest first; optionally one ``state`` (JobStatus.State) and/or ``type``."""
    wanted = None if state is None else store_state(state)
    if state is not None and wanted is None:
        return []  # a client state devicelab never enters (LINKING_MODELS, UNSPECIFIED)
    kinds = job_kinds(type)
    kind = kinds[0] if kinds and len(kinds) == 1 else None
    records = _store().list_jobs(limit, offset, state=wanted, kind=kind)  # type: ignore[arg-type]
    records = [r for r in records if kinds is None or r.kind in kinds]
    return [job_handle(_store(), r) for r in records]


def _device_filter(device: Device | None) -> dict[str, Any]:
    # The registry swaps in a simulated twin here when DEVICELAB_SIMULATE opts in.
    return {} if device is None else _registry().job_filter(device)


def _check_device(device: Device | None) -> None:
    """Refuse a device nothing can run on, before a job exists.

    A device another host of the lab published (alive now or not) is accepted: the
    job waits for it, saying so while no live host has it (``controller/lab_hosts.py``).
    """
    if device is None or not (device.name or device.os or device.attributes):
        return
    if not _registry().find(device) and any_host_had(_store(), device):
        return
    _registry().resolve(device)  # raises UserError listing reachable devices


def _input_specs_spec(
    model: Model, input_specs: InputSpecs | None, *, every_input: bool = False
) -> dict[str, Any]:
    """input_specs as stored: name -> [shape, dtype] (the cloud's two forms accepted),
    checked against the model's inputs where this host can read them (UserError)."""
    io = _model_io(model)
    return check_input_specs(model.name, io and io[0], input_specs, every_input=every_input)


def submit_profile_job(
    model: ModelLike,
    device: Device | list[Device] | None = None,
    name: str | None = None,
    options: str = "",
    retry: bool = True,
    project: Any = None,
    *,
    input_specs: InputSpecs | None = None,
    listener: EventListener | None = None,
    upload_progress: ProgressCallback | None = None,
) -> ProfileJob | list[ProfileJob]:
    """Submit a profiling job; returns at once (``job.wait()`` or ``download_profile()``).

    Args:
        model: a ``Model`` or a path to ``.tflite``, ``.onnx`` or QNN ``.bin``.
        device: the target (or a list: one job each); None = this host.
        name: a label for the job (default: the model's name).
        options: the option string, as in the cloud service's docs.
        retry: accepted for compatibility; jobs are re-queued after a worker loss anyway.
        input_specs: devicelab extension: concrete shapes (name -> shape or
            (shape, dtype)) for models with dynamic dimensions.
        listener: devicelab extension: called as ``listener(job, event)`` with this
            job's ``ProfileJob`` and every event it streams (``controller.events``:
            ``StageStarted``, ``LoadDone``, ``IterationTimes``, ...), in order, from a
            thread of this process while the job runs (read back from the store as
            the worker daemon persists them).
        upload_progress: devicelab extension: called with (bytes_done, total) while
            the model is pushed to the device (not called when it is already there);
            from the worker daemon at most every 0.2 s, and always at the end.

    Raises:
        UserError: bad model file, option, or no matching device — before anything runs.
    """
    model = _as_model(model)  # once, even for a list of devices
    if isinstance(device, list):
        jobs = [
            submit_profile_job(model, d, name, options, retry, input_specs=input_specs)
            for d in device
        ]
        return [job for job in jobs if isinstance(job, ProfileJob)]
    parse_options(options, job="profile", target_runtime=_run_target(model))
    specs = _input_specs_spec(model, input_specs)  # a dynamic model needs them
    _check_device(device)
    record = _store().create_job(
        "profile",
        model.model_id,
        name=name,
        device_filter=_device_filter(device),
        options=options if isinstance(options, str) else " ".join(options),
        spec={"input_specs": specs},
    )
    _attach_callbacks(record.id, listener, upload_progress)  # before a worker can claim it
    return _queued(ProfileJob, record)


def submit_inference_job(
    model: ModelLike,
    device: Device | list[Device] | None,
    inputs: Dataset | dict[str, Any] | str | Path | None = None,
    name: str | None = None,
    options: str = "",
    retry: bool = True,
    profile: bool = True,
    project: Any = None,
) -> Any:
    """Submit an inference job: ``inputs`` maps input names to lists of arrays (one
    per sample), or is an uploaded ``Dataset`` or an ``.h5`` path. Outputs come back
    in the same form. Without ``inputs`` (and ``profile=True``) the model is profiled
    on random inputs: a ``ProfileJob`` (as the client's profiling inference job).
    A list of devices gives a list of jobs."""
    model = _as_model(model)
    if isinstance(device, list):
        return [
            submit_inference_job(model, d, inputs, name, options, retry, profile) for d in device
        ]
    if inputs is None:
        if not profile:
            raise UserError("submit_inference_job needs inputs unless profile=True")
        return submit_profile_job(model, device, name, options, retry)
    parse_options(options, job="inference", target_runtime=_run_target(model))
    _check_device(device)
    dataset = inputs if isinstance(inputs, Dataset) else None
    data = dataset_entries(inputs)
    io = _model_io(model)
    if io is not None:
        check_inference_inputs(io[0], data)
    dataset = dataset or upload_dataset(data, name=f"inputs for {model.name}")
    record = _store().create_job(
        "inference",
        model.model_id,
        name=name,
        dataset_id=dataset.dataset_id,
        device_filter=_device_filter(device),
        options=options,
    )
    return _queued(InferenceJob, record)


def _run_target(model: Model) -> str:
    """The runtime that runs ``model``; a PyTorch source must be compiled first."""
    fmt = format_of_type(model.model_type.value)
    if fmt is not None and not fmt.runnable:
        raise UserError(
            f"{model.name}: a {model.model_type.value} model runs once compiled: use "
            "submit_compile_and_profile_jobs(model, device, input_specs=...) or "
            "submit_compile_job first, then profile its target model"
        )
    return model.model_type.value


def _compile_default(model: Model) -> str:
    """The default compile target from the model's stored type (never from its name,
    which the user chose: ``name="My Model"`` has no suffix)."""
    from controller.compile import TORCH_SUFFIXES

    kind = model.model_type.value
    return default_compile_target(TORCH_SUFFIXES.get(kind, f".{kind}"))


# A model's IO by (sha256, type): reading it parses the whole file (1.3 s and its size in
# memory for a 512 MiB ONNX), and a script submits one model to many devices and jobs;
# an entry is a few IoSpecs.
_io_cache: dict[tuple[str, str], Any] = {}


def _model_io(model: Model) -> Any:
    """The model's IO, read from the stored file by its stored type."""
    key = (model.sha256, model.model_type.value)
    if key not in _io_cache:
        _io_cache[key] = model_io(_store().artifact_path(model.sha256), model.model_type.value)
    return _io_cache[key]


def submit_compile_job(
    model: ModelLike,
    device: Device | list[Device],
    name: str | None = None,
    input_specs: InputSpecs | None = None,
    options: str = "",
    single_compile: bool = True,
    calibration_data: Dataset | dict[str, Any] | str | Path | None = None,
    retry: bool = True,
    project: Any = None,
) -> Any:
    """Submit a compile job (run on this host) for ``device``'s SoC (a list: one job each).

    ``calibration_data``: a ``Dataset``, entries, or an ``.h5`` path."""
    model = _as_model(model)
    if isinstance(device, list):
        return [
            submit_compile_job(
                model, d, name, input_specs, options, single_compile, calibration_data, retry
            )
            for d in device
        ]
    check_not_qnn_dlc(options)  # Qualcomm's converter: say so before the option parser
    target = parse_options(
        options, job="compile", target_runtime=_compile_default(model)
    ).target_runtime
    from controller.compile import check_request

    # Missing torch, converters or QNN SDK tools refuse the submit, not a later job.
    check_request(model.model_type.value, target, input_specs is not None)
    # Given specs fix every input's shape (the compiler's make_static); none: as declared.
    specs = _input_specs_spec(model, input_specs, every_input=True) if input_specs else {}
    _registry().compile_profile(device)  # UserError when no profile matches the device
    dataset = calibration_data
    if dataset is not None and not isinstance(dataset, Dataset):
        dataset = upload_dataset(dataset_entries(dataset), name=f"calibration for {model.name}")
    record = _store().create_job(
        "compile",
        model.model_id,
        name=name,
        device_filter=_device_filter(device),  # the target; a compile job runs on this host
        options=options,
        dataset_id=dataset.dataset_id if dataset else None,
        spec={"input_specs": specs, "target_runtime": target},
    )
    return _queued(CompileJob, record)


def submit_compile_and_profile_jobs(
    model: ModelLike,
    device: Device | list[Device],
    name: str | None = None,
    input_specs: InputSpecs | None = None,
    compile_options: str = "",
    profile_options: str = "",
    single_compile: bool = True,
    calibration_data: Dataset | dict[str, Any] | str | Path | None = None,
    retry: bool = True,
    project: Any = None,
) -> Any:
    """Compile for ``device``, then profile the compiled model on it: (compile, profile);
    a list of devices gives a list of such pairs.

    The profile job waits in the queue until the compile job succeeded (and is
    failed with the reason if it did not). Both jobs' inputs are checked first.
    """
    model = _as_model(model)
    if isinstance(device, list):
        return [
            submit_compile_and_profile_jobs(
                model,
                d,
                name,
                input_specs,
                compile_options,
                profile_options,
                single_compile,
                calibration_data,
            )
            for d in device
        ]
    check_not_qnn_dlc(compile_options)
    target = parse_options(
        compile_options, job="compile", target_runtime=_compile_default(model)
    ).target_runtime
    parse_options(profile_options, job="profile", target_runtime=target)
    _check_device(device)
    compile_job = submit_compile_job(
        model, device, name, input_specs, compile_options, calibration_data=calibration_data
    )
    record = _store().create_job(
        "profile",
        model.model_id,
        name=name,
        options=profile_options,
        device_filter=_device_filter(device),
        parent_job_id=compile_job.job_id,  # waits in the queue until it succeeded
    )
    return compile_job, _queued(ProfileJob, record)


@atexit.register
def _shutdown() -> None:
    worker = _state.get("worker")
    if worker is not None:  # hands its running jobs back before their agents close
        worker.stop(timeout_sec=2.0, why="the process running it exited")
    registry = _state.get("registry")
    if registry is not None:
        registry.close()
