"""``Lab``: one lab as this process sees it, and the whole API as its methods.

    with hub.Lab(store="/srv/devicelab/store") as lab:
        job = lab.submit_profile_job("model.onnx", hub.Device("Samsung Galaxy S23"))
        profile = job.download_profile()

A lab owns what the API works on: the job store, the device registry (the devices this
controller reaches), the worker that runs jobs when it runs them in this process, and
the callbacks scripts attach to their jobs. The module functions (``hub.upload_model``,
``hub.submit_profile_job``, ...) are the methods of one default lab per process
(``controller/api.py``), as httpx's module functions are a ``Client``'s.

Validation happens here, before a job exists: a bad option, model file, input or device
raises ``UserError`` and nothing is queued or run. A worker runs the queued jobs: when
none serves the store, submitting starts a detached worker daemon (``controller/daemon.py``),
so jobs run to the end after the script exits; ``DEVICELAB_WORKER=inprocess`` runs them
in this process instead, ``none`` leaves them to ``devicelab worker``.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from contract.formats import format_of_type
from controller import daemon
from controller.agent_client import ProgressCallback
from controller.devices import Device, DeviceRegistry
from controller.errors import UserError
from controller.input_specs import check_input_specs
from controller.job_callbacks import JobCallbacks
from controller.job_follow import EventListener
from controller.job_handles import (
    CompileJob,
    InferenceJob,
    Job,
    LinkJob,
    ProfileJob,
    QuantizeJob,
    job_handle,
)
from controller.job_status import JobType, QuantizeDtype, job_kinds, store_state
from controller.lab_hosts import any_host_had, lab_devices
from controller.managed import Dataset, Model, dataset_entries
from controller.model_files import check_model_file, onnx_directory
from controller.model_io import (
    ModelIo,
    check_inference_inputs,
    quantize_float_inputs,
    stored_model_io,
)
from controller.options import OPTIONS_SPEC_KEY, Options, default_compile_target, parse_options
from controller.store import JobRecord, Store
from controller.worker import Worker, run_before_sigterm, stale_after_sec

if TYPE_CHECKING:
    from controller.frameworks import Framework
    from controller.job_summaries import JobSummary

ModelLike = Model | str | Path
InputSpecs = dict[str, Any]
DatasetLike = Dataset | dict[str, Any] | str | Path
JobT = TypeVar("JobT", bound=Job)


class Lab:
    """The store, devices and worker one process's API calls use; the API as methods.

    Args:
        store: a store folder or a ``postgresql://`` URL (a lab's shared store);
            None for the default (``DEVICELAB_STORE``, else ``$DEVICELAB_HOME/store``),
            opened on first use, so settings read at that moment apply.
        registry: the devices to reach; None for a ``DeviceRegistry()`` of every
            transport, made on first use (and closed by ``close()``; a registry passed
            in stays its owner's to close).
        verbose: print a line for each job scheduled (the client's ``set_verbose``).

    ``close()`` (or leaving a ``with`` block) hands the jobs its worker is running back
    to the store and stops the agents it started.
    """

    def __init__(
        self,
        store: str | Path | Store | None = None,
        *,
        registry: DeviceRegistry | None = None,
        verbose: bool = False,
    ) -> None:
        self.verbose = verbose
        self._lock = threading.RLock()
        self._store = store if isinstance(store, Store) or store is None else Store.open(store)
        self._registry = registry
        self._owns_registry = registry is None
        self._worker: Worker | None = None
        self._callbacks = JobCallbacks()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- what it owns ----------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The job store (opened on first use)."""
        with self._lock:
            if self._store is None:
                self._store = Store.default()
            return self._store

    @property
    def registry(self) -> DeviceRegistry:
        """The devices this controller reaches (made on first use)."""
        with self._lock:
            if self._registry is None:
                self._registry = DeviceRegistry()
            return self._registry

    def set_store(self, location: str | Path | None) -> None:
        """Use the store at ``location`` from now on: a ``postgresql://`` URL (a lab's
        shared store; artifacts stay under ``$DEVICELAB_HOME`` on this host), a store
        folder, or None for the default (``DEVICELAB_STORE``, else
        ``$DEVICELAB_HOME/store``). Jobs already submitted stay where they are.

        Example:
            hub.set_store("postgresql://lab@db-host/devicelab")
        """
        store = Store.default() if location is None else Store.open(location)
        with self._lock:
            worker, self._worker = self._worker, None
            self._store = store
        if worker is not None:  # it served the old store: hand its jobs back there
            worker.stop(timeout_sec=2.0, why="the process switched stores")

    def set_verbose(self, verbose: bool = True) -> None:
        """If true, API calls may print progress to standard output."""
        self.verbose = verbose

    def ensure_worker(self) -> None:
        """Make sure a worker will run queued jobs (``controller/daemon.py`` has the modes)."""
        mode = daemon.worker_mode()
        if mode == "daemon":
            store = self.store  # a no-op while a worker serves the store:
            daemon.ensure_daemon(store.root, store.url)
        if mode != "inprocess":
            return
        with self._lock:
            if self._worker is None:
                self._worker = Worker(self.store, self.registry, self._callbacks).start()
                run_before_sigterm(self.close)  # hand its jobs back on SIGTERM too
            self._worker.wake()

    def wait_for_callbacks(self, job_id: str, timeout_sec: float = 10.0) -> None:
        """After a job ended: wait until its ``listener`` / ``upload_progress`` callbacks saw
        every event, so a caller's last progress lines come before its result."""
        self._callbacks.drain(job_id, timeout_sec)

    def close(self) -> None:
        """Hand the jobs this lab's worker runs back to the store; stop its agents."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:  # hands its running jobs back before their agents close
            worker.stop(timeout_sec=2.0, why="the process running it exited")
        if self._registry is not None and self._owns_registry:
            self._registry.close()

    # --- for the submit functions of other job kinds (link, quantize) ------------------

    def as_model(self, model: ModelLike) -> Model:
        """``model`` itself if managed, else uploaded (a path, a torch or ONNX object)."""
        return model if isinstance(model, Model) else self.upload_model(model)

    def queue_host_job(
        self,
        model: Model,
        name: str | None,
        options: str,
        spec: dict[str, Any],
        dataset_id: str | None = None,
    ) -> JobRecord:
        """Queue a job the worker runs on this host (quantize, link): no device to wait for."""
        return self.store.create_job(
            "compile", model.model_id, name=name, options=options, dataset_id=dataset_id, spec=spec
        )

    def queued(self, kind: type[JobT], record: JobRecord) -> JobT:
        """The handle of a job just queued; wakes the worker; announces it if verbose."""
        self.ensure_worker()
        job = kind(self.store, record)
        if self.verbose:
            print(f"Scheduled {job.job_type} job ({job.job_id}) successfully.", flush=True)
        return job

    # --- models and datasets -----------------------------------------------------------

    def upload_model(self, model: Any, name: str | None = None, project: Any = None) -> Model:
        """Check and store a model; returns the managed ``Model`` (``project`` is ignored).

        ``model`` is a path (``.tflite``, ``.onnx``, ``.bin``, ``.so``, ``.pt``, ``.pt2``),
        a TorchScript module (traced or scripted), a ``torch.export.ExportedProgram`` or
        an ``onnx.ModelProto``; the in-memory ones are saved as the cloud client saves them.
        """
        from controller.compile import upload_file  # imported on use: onnx costs ~75 ms

        with tempfile.TemporaryDirectory(prefix="devicelab-upload-") as tmp:
            staged = upload_file(model, Path(tmp), name)  # torch and ONNX objects, .pt, .pt2
            staged = staged or onnx_directory(Path(model), Path(tmp))  # model.onnx/ + .data
            path, model_type = staged or (Path(model), check_model_file(Path(model)))
            record = self.store.add_model(path, name=name or path.name, model_type=model_type)
        return Model._from(self.store, record)

    def get_model(self, model_id: str) -> Model:
        """The stored model with this id."""
        return Model._from(self.store, self.store.get_model(model_id))

    def get_models(self, offset: int = 0, limit: int = 50, project: Any = None) -> list[Model]:
        """Models, newest first (the client's argument order: offset, then limit)."""
        return [Model._from(self.store, r) for r in self.store.list_models(limit, offset)]

    def upload_dataset(
        self, data: dict[str, Any] | str | Path, name: str | None = None, project: Any = None
    ) -> Dataset:
        """Store a dataset (name -> list of arrays, one per sample, or an ``.h5`` file's
        path); it expires in 30 days."""
        record = self.store.add_dataset(dataset_entries(data), name=name)
        return Dataset._from(self.store, record)

    def get_dataset(self, dataset_id: str) -> Dataset:
        """The stored dataset with this id."""
        return Dataset._from(self.store, self.store.get_dataset(dataset_id))

    def get_datasets(self, offset: int = 0, limit: int = 50, project: Any = None) -> list[Dataset]:
        """Datasets, newest first (the client's argument order: offset, then limit)."""
        return [Dataset._from(self.store, r) for r in self.store.list_datasets(limit, offset)]

    # --- devices and jobs --------------------------------------------------------------

    def get_devices(
        self, name: str = "", os: str = "", attributes: str | Sequence[str] = ()
    ) -> list[Device]:
        """Devices of the lab that match all given filters: the ones this controller
        reaches, and those of every other live host sharing its store (``Device.host``
        says whose).

        Example:
            get_devices(attributes="framework:qnn")   # every device with a QNN backend
        """
        wanted = Device(name, os, attributes if isinstance(attributes, str) else tuple(attributes))
        registry = self.registry
        entries = registry.find(wanted) if (name or os or attributes) else registry.entries()
        local = [entry.as_device() for entry in entries]
        return lab_devices(self.store, local, wanted, stale_after_sec())

    def get_device_attributes(self) -> list[str]:
        """The super set of the attributes of every reachable device."""
        return sorted({attr for entry in self.registry.entries() for attr in entry.attributes})

    def get_job(self, job_id: str, job_type: JobType | None = None) -> Job:
        """The job with this id (``job_type`` is accepted as the client's and not needed)."""
        store = self.store
        record = store.get_job(job_id)
        if not record.finished and daemon.worker_mode() == "daemon":
            # A later script looking at an unfinished job: if its daemon died, start one.
            daemon.ensure_daemon(store.root, store.url)
        return job_handle(store, record)

    def get_jobs(
        self, limit: int = 50, offset: int = 0, state: Any = None, type: str | None = None
    ) -> list[Job]:  # noqa: A002
        """Jobs, newest first; optionally one ``state`` (JobStatus.State) and/or ``type``."""
        wanted = None if state is None else store_state(state)
        if state is not None and wanted is None:
            return []  # a client state devicelab never enters (LINKING_MODELS, UNSPECIFIED)
        kinds = job_kinds(type)
        kind = kinds[0] if kinds and len(kinds) == 1 else None
        records = self.store.list_jobs(limit, offset, state=wanted, kind=kind)  # type: ignore[arg-type]
        return [job_handle(self.store, r) for r in records if kinds is None or r.kind in kinds]

    def submit_profile_job(
        self,
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
            listener: devicelab extension: called as ``listener(job, event)`` with the
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
        model = self.as_model(model)  # once, even for a list of devices
        if isinstance(device, list):
            jobs = [
                self.submit_profile_job(
                    model,
                    d,
                    name,
                    options,
                    retry,
                    input_specs=input_specs,
                    listener=listener,  # each job's events, each push's progress
                    upload_progress=upload_progress,
                )
                for d in device
            ]
            return [job for job in jobs if isinstance(job, ProfileJob)]
        parsed = parse_options(options, job="profile", target_runtime=self._run_target(model))
        specs = self._input_specs_spec(model, input_specs)  # a dynamic model needs them
        self._check_device(device)
        record = self.store.create_job(
            "profile",
            model.model_id,
            name=name,
            device_filter=self._device_filter(device),
            options=options if isinstance(options, str) else " ".join(options),
            spec={"input_specs": specs, OPTIONS_SPEC_KEY: parsed.to_spec()},
        )
        in_process = daemon.worker_mode() == "inprocess"  # before a worker can claim it:
        self._callbacks.attach(
            self.store, record.id, listener, upload_progress, in_process=in_process
        )
        return self.queued(ProfileJob, record)

    def submit_inference_job(
        self,
        model: ModelLike,
        device: Device | list[Device] | None,
        inputs: DatasetLike | None = None,
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
        model = self.as_model(model)
        if isinstance(device, list):
            return [
                self.submit_inference_job(model, d, inputs, name, options, retry, profile)
                for d in device
            ]
        if inputs is None:
            if not profile:
                raise UserError("submit_inference_job needs inputs unless profile=True")
            return self.submit_profile_job(model, device, name, options, retry)
        parsed = parse_options(options, job="inference", target_runtime=self._run_target(model))
        self._check_device(device)
        dataset = inputs if isinstance(inputs, Dataset) else None
        data = dataset_entries(inputs)
        io = self._model_io(model)
        notes: list[str] = []
        if io is not None:
            data, notes = quantize_float_inputs(io[0], data)  # as the cloud takes them
            check_inference_inputs(io[0], data)
        if dataset is None or notes:  # the samples the device runs are the ones stored
            dataset = self.upload_dataset(data, name=f"inputs for {model.name}")
        record = self.store.create_job(
            "inference",
            model.model_id,
            name=name,
            dataset_id=dataset.dataset_id,
            device_filter=self._device_filter(device),
            options=options,
            spec={OPTIONS_SPEC_KEY: parsed.to_spec()} | ({"notes": notes} if notes else {}),
        )
        return self.queued(InferenceJob, record)

    def submit_compile_job(
        self,
        model: ModelLike,
        device: Device | list[Device],
        name: str | None = None,
        input_specs: InputSpecs | None = None,
        options: str = "",
        single_compile: bool = True,
        calibration_data: DatasetLike | None = None,
        retry: bool = True,
        project: Any = None,
        *,
        notes: Sequence[str] = (),
    ) -> Any:
        """Submit a compile job (run on this host) for ``device``'s SoC (a list: one job
        each). ``calibration_data``: a ``Dataset``, entries, or an ``.h5`` path.
        ``notes`` (devicelab extension): lines the result's notes start with, for a
        caller that changed the request (``controller/hub_shim/qnn_dlc.py``)."""
        from controller.compile import check_request
        from controller.link_jobs import check_not_qnn_dlc

        model = self.as_model(model)
        if isinstance(device, list):
            return [
                self.submit_compile_job(
                    model,
                    d,
                    name,
                    input_specs,
                    options,
                    single_compile,
                    calibration_data,
                    notes=notes,
                )
                for d in device
            ]
        check_not_qnn_dlc(options)  # Qualcomm's converter: say so before the option parser
        parsed = self._compile_options(model, options)
        target = parsed.target_runtime
        # Missing torch, converters or QNN SDK tools refuse the submit, not a later job.
        check_request(model.model_type.value, target, input_specs is not None)
        # Given specs fix every input's shape (the compiler's make_static); none: as declared.
        specs = self._input_specs_spec(model, input_specs, every_input=True) if input_specs else {}
        self.registry.compile_profile(device)  # UserError when no profile matches the device
        dataset = calibration_data
        if dataset is not None and not isinstance(dataset, Dataset):
            entries = dataset_entries(dataset)
            dataset = self.upload_dataset(entries, name=f"calibration for {model.name}")
        record = self.store.create_job(
            "compile",
            model.model_id,
            name=name,
            device_filter=self._device_filter(device),  # the target; it runs on this host
            options=options,
            dataset_id=dataset.dataset_id if dataset else None,
            spec={
                "input_specs": specs,
                "target_runtime": target,
                OPTIONS_SPEC_KEY: parsed.to_spec(),
            }
            | ({"notes": list(notes)} if notes else {}),
        )
        return self.queued(CompileJob, record)

    def submit_compile_and_profile_jobs(
        self,
        model: ModelLike,
        device: Device | list[Device],
        name: str | None = None,
        input_specs: InputSpecs | None = None,
        compile_options: str = "",
        profile_options: str = "",
        single_compile: bool = True,
        calibration_data: DatasetLike | None = None,
        retry: bool = True,
        project: Any = None,
    ) -> Any:
        """Compile for ``device``, then profile the compiled model on it: (compile, profile);
        a list of devices gives a list of such pairs.

        The profile job waits in the queue until the compile job succeeded (and is
        failed with the reason if it did not). Both jobs' inputs are checked first.
        """
        from controller.link_jobs import check_not_qnn_dlc

        model = self.as_model(model)
        if isinstance(device, list):
            return [
                self.submit_compile_and_profile_jobs(
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
        target = self._compile_options(model, compile_options).target_runtime
        profiled = parse_options(profile_options, job="profile", target_runtime=target)
        self._check_device(device)
        compile_job = self.submit_compile_job(
            model, device, name, input_specs, compile_options, calibration_data=calibration_data
        )
        record = self.store.create_job(
            "profile",
            model.model_id,
            name=name,
            options=profile_options,
            device_filter=self._device_filter(device),
            parent_job_id=compile_job.job_id,  # waits in the queue until it succeeded
            spec={OPTIONS_SPEC_KEY: profiled.to_spec()},
        )
        return compile_job, self.queued(ProfileJob, record)

    # --- the cloud client's other calls (their own modules; the lab is passed in) --------

    def submit_quantize_job(
        self,
        model: Any,
        calibration_data: DatasetLike,
        weights_dtype: QuantizeDtype = QuantizeDtype.INT8,
        activations_dtype: QuantizeDtype = QuantizeDtype.INT8,
        name: str | None = None,
        options: str = "",
        project: Any = None,
    ) -> QuantizeJob:
        """Quantize an ONNX model on this host (``controller/quantize_jobs.py`` says how)."""
        from controller.quantize_jobs import submit_quantize_job

        return submit_quantize_job(
            self, model, calibration_data, weights_dtype, activations_dtype, name, options
        )

    def submit_link_job(
        self,
        models: Any,
        device: Device | None = None,
        name: str | None = None,
        options: str = "",
        project: Any = None,
    ) -> LinkJob:
        """Link models into a QNN context binary (``controller/link_jobs.py`` says what
        links here and what is refused)."""
        from controller.link_jobs import submit_link_job

        return submit_link_job(self, models, name, options)

    def submit_compile_and_link_jobs(
        self,
        model: Any,
        device: Any,
        name: str | None = None,
        input_specs: Any = None,
        compile_options: str = "",
        link_options: str = "",
        calibration_data: Any = None,
        project: Any = None,
    ) -> Any:
        """Compile to QNN DLC, then link (the cloud client's): refused, as ``qnn_dlc``
        compiles are (``controller/link_jobs.py`` says what it needs)."""
        from controller.link_jobs import refuse_link

        raise refuse_link("submit_compile_and_link_jobs (compile to QNN DLC, then link)")

    def get_frameworks(self) -> list[Framework]:
        """The ML frameworks this host runs (QAIRT, ONNX Runtime, LiteRT), with their
        versions (``controller/frameworks.py``).

        Starts this host's agent if it is not running (about 1.5 s); phones are not asked.
        """
        from controller.frameworks import local_frameworks

        return local_frameworks(self.registry)

    def get_job_summaries(
        self,
        offset: int = 0,
        limit: int = 50,
        creator: str | None = None,
        state: Any = None,
        type: JobType | None = None,  # noqa: A002 - the client's argument name
        project: Any = None,
    ) -> list[JobSummary]:
        """Summaries of jobs, newest first (the client's ``get_job_summaries``).

        Args:
            offset: how many matching jobs to skip (older ones come later).
            limit: the most summaries to return.
            creator: accepted and ignored: the store records no submitter.
            state: a ``JobStatus.State`` or a list of them (e.g.
                ``JobStatus.all_running_states()``); None for every state.
            type: a ``JobType`` (PROFILE is INFERENCE); None for every type.
            project: accepted and ignored (one store, no projects).
        """
        from controller.job_summaries import job_summaries

        return job_summaries(self.store, offset, limit, state, type)

    # --- checks shared by the submit methods --------------------------------------------

    def _device_filter(self, device: Device | None) -> dict[str, Any]:
        # The registry swaps in a simulated twin here when DEVICELAB_SIMULATE opts in.
        return {} if device is None else self.registry.job_filter(device)

    def _check_device(self, device: Device | None) -> None:
        """Refuse a device nothing can run on, before a job exists.

        A device another host of the lab published (alive now or not) is accepted: the
        job waits for it, saying so while no live host has it (``controller/lab_hosts.py``).
        """
        if device is None or not (device.name or device.os or device.attributes):
            return
        if not self.registry.find(device) and any_host_had(self.store, device):
            return
        self.registry.resolve(device)  # raises UserError listing reachable devices

    def _input_specs_spec(
        self, model: Model, input_specs: InputSpecs | None, *, every_input: bool = False
    ) -> dict[str, Any]:
        """input_specs as stored: name -> [shape, dtype] (the cloud's two forms accepted),
        checked against the model's inputs where this host can read them (UserError)."""
        io = self._model_io(model)
        return check_input_specs(model.name, io and io[0], input_specs, every_input=every_input)

    def _model_io(self, model: Model) -> ModelIo | None:
        """The model's IO, read from the stored file by its stored type (once)."""
        return stored_model_io(self.store.artifact_path(model.sha256), model.model_type.value)

    @staticmethod
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

    @staticmethod
    def _compile_options(model: Model, options: str) -> Options:
        """The compile's options; their target runtime is the options', else the default
        for the model's stored type (never from its name, which the user chose)."""
        from controller.compile import TORCH_SUFFIXES

        kind = model.model_type.value
        default = default_compile_target(TORCH_SUFFIXES.get(kind, f".{kind}"))
        return parse_options(options, job="compile", target_runtime=default)
