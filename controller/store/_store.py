"""``Store``: the durable home of models, datasets, devices, jobs and their results.

One directory holds it all by default::

    <root>/store.db          SQLite (WAL): every record, job state, event, result
    <root>/artifacts/ab/ab…  content-addressed files: models, datasets, outputs

or, for a lab of many hosts, the records live in PostgreSQL (``url=``, or
``DEVICELAB_STORE=postgresql://...``), and the artifacts too (``_blobs``), with
``<root>/artifacts`` as this host's cache of them. Each store knows its host
(``DEVICELAB_HOST``): device health and published devices are per host.

Any number of threads and processes (the CLI, scripts, ``devicelab worker``) may
open the same store at once. Every method is one short transaction; the engines
differ only below ``_sql.Connection``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy.typing as npt

from controller import settings as lab_settings
from controller.device_states import (
    DeviceState,
    DeviceStatus,
    DeviceTransition,
    Event,
    HealthSettings,
)
from controller.errors import InternalError, UserError
from controller.jobs import JobState
from controller.options import target_runtime_for_model
from controller.store import (
    _arrays,
    _blobs,
    _catalog,
    _health,
    _hosts,
    _jobs,
    _packed,
    _regress,
    _runs,
    _scheduling,
)
from controller.store._artifacts import ArtifactStore
from controller.store._changes import changes_of
from controller.store._codec import check_page, to_json
from controller.store._db import Database
from controller.store._records import (
    TERMINAL_STATES,
    DatasetRecord,
    DeviceRecord,
    EventRecord,
    JobKind,
    JobRecord,
    ModelRecord,
)
from controller.store._schema import HOSTS_SCHEMA_VERSION, SCHEMA_VERSION
from controller.store._sql import Engine, is_postgresql_url

DB_NAME = "store.db"
DEFAULT_DATASET_TTL_DAYS = 30
_DAY_S = 24 * 3600.0


class Store:
    """The embedded store. Share it between threads (each gets its own connection)
    or hand it to child processes (they reconnect); every method is atomic.

    Example:
        store = Store(Path("/tmp/lab"))                # or Store.default()
        model = store.add_model(Path("mobilenet.tflite"))
        job = store.create_job("profile", model.id, device_filter={"name": "Galaxy S24"})
        store.register_worker("w1", pid=os.getpid(), hostname="lab-host")
        claimed = store.claim_next("w1", "R5CT1234", lambda f: f.get("name") == "Galaxy S24")
        store.transition(claimed.id, JobState.MEASURING_PERFORMANCE, worker_id="w1")
    """

    def __init__(
        self,
        root: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 10.0,
        url: str | None = None,
        host: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.url = url
        #: The host this store's devices and health rows belong to (``DEVICELAB_HOST``).
        self.host = host or lab_settings.host_name()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # e.g. a file where the store's folder belongs
            raise InternalError(f"store {self.root}: cannot use it as a folder: {exc}") from exc
        self._clock = clock
        self._busy_timeout_s = busy_timeout_s
        self._db: Engine
        if url is None:
            self._db = Database(self.root / DB_NAME, busy_timeout_s)
        elif is_postgresql_url(url):
            self._db = _postgres_engine(url, busy_timeout_s)
        else:
            raise UserError(f"store {url!r}: expected a postgresql://... URL")
        # Job.wait() in this process wakes on its moves (controller/store/_changes.py).
        self._job_moves = changes_of(url or str((self.root / DB_NAME).resolve()))
        self._db.check_integrity()  # once per process: a damaged file is refused here
        self._artifacts = ArtifactStore(self.root / "artifacts")
        self._artifacts.sweep_temp()
        before = self._db.schema_version()
        if before != SCHEMA_VERSION:
            self._db.migrate()  # takes the write lock, once per store's life
            if 0 < before < HOSTS_SCHEMA_VERSION:
                # Health rows from before hosts were recorded: this store's host's (the
                # one host such a store had; the first process to upgrade it decides).
                with self._db.write() as conn:
                    _health.adopt_unhosted(conn, self.host)

    @classmethod
    def default(cls) -> Store:
        """The user's store: ``DEVICELAB_STORE`` if set, else ``$DEVICELAB_HOME/store``."""
        return cls.open(lab_settings.store_location())

    @classmethod
    def open(cls, location: str | Path | None) -> Store:
        """The store at ``location``: a ``postgresql://`` URL (artifacts stay in
        ``$DEVICELAB_HOME/store`` on this host), a folder, or None for the default folder.

        Example:
            Store.open("postgresql://lab@db-host/devicelab")
        """
        home_store = lab_settings.home_dir() / "store"
        if location is None or str(location) == "":
            return cls(home_store)
        if is_postgresql_url(str(location)):
            return cls(home_store, url=str(location))
        return cls(Path(location).expanduser())

    @property
    def location(self) -> str:
        """Where the records live: the SQLite file, or the URL without its password."""
        return self._db.location

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to another process (multiprocessing), a store travels as its
        # location: the receiver opens its own connections.
        return (_reopen, (self.root, self._clock, self._busy_timeout_s, self.url, self.host))

    def close(self) -> None:
        """Close this thread's database connection; the store stays usable."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def diagnostics(self) -> dict[str, Any]:
        """The engine's settings in force on this thread's connection (for ``doctor``)."""
        return self._db.diagnostics()

    # -- artifacts -----------------------------------------------------------

    def put_artifact(self, source: Path | bytes) -> str:
        """Store a file or bytes by content; returns its sha256. Storing twice is free.

        Example:
            sha = store.put_artifact(Path("model.tflite"))
        """
        sha = self._artifacts.put(source)
        if self.url is not None:  # PostgreSQL: every host must reach it, not only this one
            with self._db.write() as conn:
                _blobs.put(conn, self._clock(), sha, self._artifacts.path(sha))
        return sha

    def artifact_path(self, sha256: str) -> Path:
        """The stored file for ``sha256`` on this host (on PostgreSQL, fetched into this
        host's cache on first use); ``UserError`` if it is not stored."""
        if self.url is None or self._artifacts.has(sha256):
            return self._artifacts.path(sha256)
        with self._db.read() as conn:
            count = _blobs.chunk_count(conn, sha256)
        if count is None:
            return self._artifacts.path(sha256)  # raises, naming the artifact
        return self._artifacts.put_chunks(
            sha256, _blobs.iter_chunks(self._read_chunk, sha256, count)
        )

    def _read_chunk(self, sha256: str, seq: int) -> bytes:
        with self._db.read() as conn:
            return _blobs.chunk(conn, sha256, seq)

    def has_artifact(self, sha256: str) -> bool:
        if self._artifacts.has(sha256) or self.url is None:
            return self._artifacts.has(sha256)
        with self._db.read() as conn:
            return _blobs.has(conn, sha256)

    # -- models --------------------------------------------------------------

    def add_model(
        self,
        path: Path | str,
        name: str | None = None,
        model_type: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ModelRecord:
        """Upload a model file. ``model_type`` defaults from the suffix (``.tflite`` -> tflite).

        Example:
            store.add_model("yolo.onnx").model_type      # "onnx"
        """
        path = Path(path)
        try:
            kind = model_type or target_runtime_for_model(path)
        except UserError as exc:
            raise UserError(f"{exc}; pass model_type= for other model files") from exc
        if not path.is_file():
            raise UserError(f"{path}: model file not found")
        # The file goes in first: a crash between the two steps leaves an unused
        # artifact, never a model row without its bytes.
        sha = self.put_artifact(path)
        with self._db.write() as conn:
            return _catalog.insert_model(
                conn,
                self._clock(),
                name=name or path.name,
                model_type=kind,
                sha256=sha,
                size_bytes=self._artifacts.path(sha).stat().st_size,
                metadata=metadata or {},
            )

    def get_model(self, model_id: str) -> ModelRecord:
        with self._db.read() as conn:
            return _catalog.get_model(conn, model_id)

    def list_models(self, limit: int = 50, offset: int = 0) -> list[ModelRecord]:
        """Newest first."""
        check_page(limit, offset)
        with self._db.read() as conn:
            return _catalog.list_models(conn, limit, offset)

    # -- datasets ------------------------------------------------------------

    def add_dataset(
        self,
        data: Mapping[str, Sequence[npt.NDArray[Any]]],
        name: str | None = None,
        ttl_days: float = DEFAULT_DATASET_TTL_DAYS,
        metadata: dict[str, Any] | None = None,
    ) -> DatasetRecord:
        """Upload ``{input name: [one array per sample]}``; it expires after ``ttl_days``.

        Example:
            ds = store.add_dataset({"image": [np.zeros((1, 3, 224, 224), np.float32)]})
        """
        _arrays.validate_samples(data)
        if not ttl_days > 0:
            raise UserError(f"ttl_days must be positive (got {ttl_days})")
        sha = self.put_artifact(_arrays.encode(data))
        now = self._clock()
        with self._db.write() as conn:
            return _catalog.insert_dataset(
                conn,
                now,
                name=name or "dataset",
                sha256=sha,
                expires_at=now + ttl_days * _DAY_S,
                metadata=metadata or {},
            )

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        """The dataset; ``UserError`` if unknown or expired."""
        with self._db.read() as conn:
            return _catalog.get_dataset(conn, self._clock(), dataset_id)

    def load_dataset(self, dataset_id: str) -> dict[str, list[npt.NDArray[Any]]]:
        """The dataset's arrays, as uploaded."""
        return _arrays.decode(self.artifact_path(self.get_dataset(dataset_id).sha256))

    def list_datasets(self, limit: int = 50, offset: int = 0) -> list[DatasetRecord]:
        """Newest first, expired ones included and marked ``expired=True``."""
        check_page(limit, offset)
        with self._db.read() as conn:
            return _catalog.list_datasets(conn, self._clock(), limit, offset)

    # -- devices -------------------------------------------------------------

    def upsert_device(self, device: DeviceRecord) -> DeviceRecord:
        """Insert or replace this host's device with this serial; returns it as stored."""
        with self._db.write() as conn:
            return _hosts.upsert_device(conn, self._clock(), self.host, device)

    def publish_devices(self, devices: Sequence[DeviceRecord]) -> None:
        """Make ``devices`` this host's devices (the ones it no longer lists go)."""
        with self._db.write() as conn:
            _hosts.publish_devices(conn, self._clock(), self.host, devices)

    def list_devices(self, live_within_s: float | None = None) -> list[DeviceRecord]:
        """Every host's devices (``DeviceRecord.host``); with ``live_within_s``, only of
        hosts whose worker heartbeat within that many seconds.

        Example:
            store.list_devices(live_within_s=30)    # what the lab can run on now
        """
        live_since = None if live_within_s is None else self._clock() - live_within_s
        with self._db.read() as conn:
            return _hosts.list_devices(conn, live_since)

    def live_hosts(self, live_within_s: float) -> list[str]:
        """Hosts with a worker that heartbeat within ``live_within_s`` seconds."""
        with self._db.read() as conn:
            return _hosts.live_hosts(conn, self._clock() - live_within_s)

    def mark_unplaced(self, unplaced: Collection[dict[str, Any]], timeout_s: float) -> list[str]:
        """Queued device jobs whose ``device_filter`` is in ``unplaced`` (no live host has
        such a device) wait with a message saying so and fail after ``timeout_s``; the
        others stop waiting. Returns the ids of the jobs it failed."""
        texts = [to_json(f, "device filter") for f in unplaced]
        with self._db.write() as conn:
            failed = _hosts.mark_unplaced(conn, self._clock(), texts, timeout_s)
            if failed:
                self._db.notify_work(conn)  # their dependants failed; followers wake
            return failed

    # -- device health (controller/device_states.py) ---------------------------

    def device_status(self, serial: str) -> DeviceStatus:
        """Where the device is in the health machine; available if never recorded."""
        with self._db.read() as conn:
            return _health.get_status(conn, self.host, serial)

    def device_statuses(self) -> list[DeviceStatus]:
        """Every device of this host the machine has a record of (by serial)."""
        with self._db.read() as conn:
            return _health.list_statuses(conn, self.host)

    def device_statuses_by_host(self) -> dict[tuple[str, str], DeviceStatus]:
        """Every host's recorded device statuses, by (host, serial)."""
        with self._db.read() as conn:
            return _health.statuses_by_host(conn)

    def device_event(
        self,
        serial: str,
        event: Event,
        settings: HealthSettings | None = None,
        *,
        job_id: str | None = None,
    ) -> DeviceStatus | None:
        """Apply a health event atomically; the new status, or None if it moved nothing.

        Each move is stored as a transition (time, from, to, reason, the job if any).
        Two workers offering the same event race safely: the second sees the first's
        move (e.g. only one ``RecoveryStarted`` moves a suspect device to recovering).

        Example:
            store.device_event("R5CT1234", JobFailed("adb push failed"), job_id=job.id)
        """
        settings = settings or HealthSettings.from_env()
        with self._db.write() as conn:
            status = _health.device_event(
                conn, self._clock(), self.host, serial, event, settings, job_id
            )
            if status is not None and status.state is DeviceState.AVAILABLE:
                self._db.notify_work(conn)  # a device back to health may take a job
            return status

    def device_transitions(
        self, serial: str | None = None, limit: int = 50
    ) -> list[DeviceTransition]:
        """The last ``limit`` transitions (of one device, or of all), oldest first."""
        check_page(limit, 0)
        with self._db.read() as conn:
            return _health.list_transitions(conn, self.host, serial, limit)

    # -- jobs ----------------------------------------------------------------

    def create_job(
        self,
        kind: JobKind,
        model_id: str,
        *,
        name: str | None = None,
        dataset_id: str | None = None,
        device_filter: dict[str, Any] | None = None,
        options: str = "",
        parent_job_id: str | None = None,
        spec: dict[str, Any] | None = None,
        submitter: str | None = None,
    ) -> JobRecord:
        """Queue a job (state ``created``). ``name`` defaults to the model's name.

        A job with ``parent_job_id`` waits until that job succeeded (and fails
        when it fails). ``submitter`` (default: ``DEVICELAB_USER``, else the OS
        user) is whom claims serve in turn.

        Example:
            store.create_job("profile", model.id, device_filter={"name": "Galaxy S24"},
                             options="--max_profiler_iterations 50")
        """
        with self._db.write() as conn:
            self._db.notify_work(conn)
            return _jobs.insert_job(
                conn,
                self._clock(),
                kind=kind,
                model_id=model_id,
                name=name,
                dataset_id=dataset_id,
                device_filter=device_filter or {},
                options=options,
                parent_job_id=parent_job_id,
                spec=spec,
                submitter=lab_settings.submitter() if submitter is None else submitter,
            )

    def get_job(self, job_id: str) -> JobRecord:
        with self._db.read() as conn:
            return _jobs.get_job(conn, job_id)

    @property
    def job_moves(self) -> int:
        """How many times this process moved a job's state (for ``wait_for_job_move``)."""
        return self._job_moves.count

    def wait_for_job_move(self, seen: int, timeout_s: float) -> int:
        """Sleep until this process moves a job's state after ``job_moves`` was ``seen``,
        or ``timeout_s`` passed; returns the count now.

        Moves made by other processes do not wake it: bound ``timeout_s`` when one may
        make the move you wait for (the worker daemon).

        Example:
            seen = store.job_moves
            while not store.get_job(job_id).finished:
                seen = store.wait_for_job_move(seen, 0.1)
        """
        return self._job_moves.wait_after(seen, timeout_s)

    def rename_job(self, job_id: str, name: str) -> None:
        """Give a job a new name (its state and history are untouched)."""
        with self._db.write() as conn:
            _jobs.rename_job(conn, job_id, name)

    def list_jobs(
        self,
        limit: int = 50,
        offset: int = 0,
        state: JobState | str | None = None,
        kind: JobKind | None = None,
    ) -> list[JobRecord]:
        """Newest first, optionally only one ``state`` and/or ``kind``."""
        check_page(limit, offset)
        with self._db.read() as conn:
            return _jobs.list_jobs(conn, limit, offset, state, kind)

    def transition(
        self,
        job_id: str,
        to_state: JobState | str,
        message: str = "",
        expect: Collection[JobState | str] = (),
        *,
        worker_id: str | None = None,
    ) -> JobRecord:
        """Move a job to ``to_state`` if it is in one of ``expect`` (compare-and-set).

        Raises ``JobStateError`` if the job has ended, is not in ``expect`` (when
        given), the move is not in ``TRANSITIONS``, or ``worker_id`` is given and
        another worker holds the job. A worker passes its id so that it cannot
        touch a job that was recovered and handed to someone else.

        Example:
            store.transition(job.id, JobState.SUCCESS, expect=[JobState.MEASURING_PERFORMANCE])
        """
        target = _jobs.parse_state(to_state)
        expected = [_jobs.parse_state(state) for state in expect]
        with self._db.write() as conn:
            if target in TERMINAL_STATES:  # a device, or a job's dependants, may be free
                self._db.notify_work(conn)
            moved = _jobs.transition(
                conn, self._clock(), job_id, target, message, expected, worker_id
            )
        self._job_moves.mark()  # wakes this process's Job.wait()
        return moved

    # -- workers and scheduling ------------------------------------------------

    def register_worker(
        self,
        worker_id: str,
        pid: int,
        hostname: str,
        max_attempts: int = _scheduling.DEFAULT_MAX_ATTEMPTS,
    ) -> list[JobRecord]:
        """Record a worker as alive. Returns the jobs its previous run left running,
        now re-queued (or failed, past ``max_attempts``): a new run holds nothing.
        """
        with self._db.write() as conn:
            recovered = _scheduling.register_worker(
                conn, self._clock(), worker_id, pid, hostname, max_attempts
            )
            if recovered:
                self._db.notify_work(conn)
        if recovered:
            self._job_moves.mark()
        return recovered

    def heartbeat(self, worker_id: str) -> None:
        """Tell the store the worker is alive; call it well within ``stale_after_s``."""
        with self._db.write() as conn:
            _scheduling.heartbeat(conn, self._clock(), worker_id)

    def claim_next(
        self,
        worker_id: str,
        device_serial: str,
        device_matches: Callable[[dict[str, Any]], bool],
    ) -> JobRecord | None:
        """Atomically take the next runnable job whose ``device_filter`` the callback accepts.

        The job moves to ``provisioning device`` held by ``worker_id`` on
        ``device_serial``. Returns None when nothing matches, the device is already
        running a job, or its health state is not ``available``. The callback runs
        before the write transaction, once per distinct filter: it may take its
        time (probe a device).

        Example:
            job = store.claim_next("w1", "R5CT1234", lambda f: f.get("name") in ("", "S24"))
        """
        accepted = [f for f in self.runnable_filters() if device_matches(f)]
        return self.claim(worker_id, device_serial, device_filters=accepted)

    def runnable_filters(self, kinds: Collection[JobKind] | None = None) -> list[dict[str, Any]]:
        """The distinct ``device_filter``s of queued jobs (of ``kinds``) that may start now."""
        with self._db.read() as conn:
            return _scheduling.runnable_filters(conn, kinds)

    def claim(
        self,
        worker_id: str,
        slot: str,
        *,
        kinds: Collection[JobKind] | None = None,
        device_filters: Collection[dict[str, Any]] | None = None,
    ) -> JobRecord | None:
        """Take the next runnable job for ``slot`` (a device serial) in one statement.

        Only jobs of ``kinds`` (None: any) whose ``device_filter`` is one of
        ``device_filters`` (None: any), whose parent succeeded; submitters in
        turn, each one's jobs oldest first. None when nothing fits or the slot
        runs a job already.

        Example:
            store.claim("w1", "R5CT1234", kinds=["profile", "inference"],
                        device_filters=[{"name": "Galaxy S24"}])
        """
        texts = None
        if device_filters is not None:  # as stored: JSON text with sorted keys
            texts = [to_json(f, "device filter") for f in device_filters]
        with self._db.write() as conn:
            moved = _scheduling.claim(conn, self._clock(), worker_id, slot, kinds, texts)
        if moved:
            self._job_moves.mark()
        return moved

    def listen(self, on_work: Callable[[], None], stop: threading.Event) -> bool:
        """Have the store call ``on_work`` when another process queues or frees work,
        until ``stop`` is set. False when the engine cannot (SQLite: poll instead)."""
        return self._db.listen(on_work, stop)

    def recover_orphans(
        self, stale_after_s: float, max_attempts: int = _scheduling.DEFAULT_MAX_ATTEMPTS
    ) -> list[JobRecord]:
        """Rescue running jobs whose worker went silent for ``stale_after_s`` seconds.

        Each goes back to ``created`` with ``attempt + 1`` while ``attempt <
        max_attempts``, else to ``failed`` with a message naming the worker. A
        running job no worker holds is rescued once it made no progress for as long.

        Example:
            for job in store.recover_orphans(stale_after_s=60):
                print(job.id, job.state.value, job.message)
        """
        with self._db.write() as conn:
            recovered = _scheduling.recover_orphans(
                conn, self._clock(), stale_after_s, max_attempts
            )
            if recovered:
                self._db.notify_work(conn)
        if recovered:
            self._job_moves.mark()
        return recovered

    def hand_back(self, job_id: str, worker_id: str, reason: str) -> JobRecord | None:
        """Re-queue at once a running job ``worker_id`` gives up (it is stopping).

        Unlike a recovery this is no failed attempt: the attempt count stays and
        the abandoned run's events are dropped. Returns the job, or None when the
        worker no longer held it (it ended, or was recovered by another worker).

        Example:
            store.hand_back(job.id, "w1", "worker w1 stopped (SIGTERM)")
        """
        with self._db.write() as conn:
            job = _scheduling.hand_back(conn, self._clock(), job_id, worker_id, reason)
            if job is not None:
                self._db.notify_work(conn)
        if job is not None:
            self._job_moves.mark()
        return job

    def retry_after_device_failure(
        self, job_id: str, worker_id: str, device_serial: str, reason: str, max_retries: int
    ) -> JobRecord | None:
        """Queue again a job whose run its device failed (``DeviceError``), listing the
        retry in ``JobRecord.retries``; past ``max_retries`` fail it with ``reason``.
        None when ``worker_id`` no longer holds the job.

        Example:
            store.retry_after_device_failure(job.id, "w1", "R5CT1234", "adb lost it", 2)
        """
        with self._db.write() as conn:
            job = _scheduling.retry_after_device_failure(
                conn, self._clock(), job_id, worker_id, device_serial, reason, max_retries
            )
            if job is not None:  # queued again, or failed (its device is free)
                self._db.notify_work(conn)
        if job is not None:
            self._job_moves.mark()
        return job

    # -- events and results ----------------------------------------------------

    def append_events(
        self,
        job_id: str,
        events: Iterable[tuple[int, str, bytes]],
        *,
        attempt: int | None = None,
        worker_id: str | None = None,
    ) -> int:
        """Persist ``(seq, kind, payload)`` events of the job's current (or given) attempt.

        Idempotent on ``seq``; returns how many events were new. A worker passes
        the ``attempt`` it claimed, so a late write from a run that lost the job
        cannot mix into the next attempt, and its ``worker_id``: once the job was
        handed back (same attempt) the write raises ``JobStateError``.

        Example:
            store.append_events(job.id, [(0, "load_done", event.SerializeToString())],
                                attempt=job.attempt)
        """
        with self._db.write() as conn:
            return _runs.append_events(conn, self._clock(), job_id, events, attempt, worker_id)

    def events(self, job_id: str, *, attempt: int | None = None) -> list[EventRecord]:
        """The job's events in ``seq`` order (current attempt unless one is given)."""
        with self._db.read() as conn:
            return _runs.list_events(conn, job_id, attempt)

    def set_result(
        self, job_id: str, result: dict[str, Any], *, worker_id: str | None = None
    ) -> None:
        """Store (or replace) the job's result dict, as JSON; long lists of sample ints
        (``all_inference_times``) packed compactly, outside the write lock.

        A worker passes its id: once the job was taken from it (its host was presumed
        lost, the job re-queued) the write raises ``JobStateError`` (fencing).
        """
        packed = _packed.pack(result)
        with self._db.write() as conn:
            _runs.set_result(conn, self._clock(), job_id, packed, worker_id)

    def get_result(self, job_id: str) -> dict[str, Any] | None:
        with self._db.read() as conn:
            stored = _runs.get_result(conn, job_id)
        result: dict[str, Any] | None = None if stored is None else _packed.unpack(stored)
        return result

    def set_output_data(
        self,
        job_id: str,
        data: Mapping[str, Sequence[npt.NDArray[Any]]],
        *,
        worker_id: str | None = None,
    ) -> str:
        """Store an inference job's outputs (an ``.npz`` artifact); returns its sha256.
        ``worker_id`` fences as in ``set_result``."""
        _arrays.validate_samples(data, what="output data")
        self.get_job(job_id)  # fail before writing an artifact for an unknown job
        sha = self.put_artifact(_arrays.encode(data))
        with self._db.write() as conn:
            _runs.set_output_sha256(conn, self._clock(), job_id, sha, worker_id)
        return sha

    def get_output_data(self, job_id: str) -> dict[str, list[npt.NDArray[Any]]] | None:
        with self._db.read() as conn:
            sha = _runs.get_output_sha256(conn, job_id)
        return None if sha is None else _arrays.decode(self.artifact_path(sha))

    # -- regression suite runs (controller/regress) --------------------------

    def add_regress_run(
        self,
        suite: str,
        results: Sequence[dict[str, Any]],
        *,
        outcome: str,
        started_at: float,
        summary: dict[str, Any] | None = None,
    ) -> str:
        """Store a suite run and its entry x device results (each needs ``entry``,
        ``device_serial``, ``verdict``); returns the run id. Sample lists are packed."""
        packed = [_packed.pack(dict(r)) for r in results]
        with self._db.write() as conn:
            return _regress.insert_run(
                conn,
                suite=suite,
                started_at=started_at,
                finished_at=self._clock(),
                outcome=outcome,
                summary=summary or {},
                results=packed,
            )

    def get_regress_run(self, run_id: str) -> dict[str, Any]:
        """A stored suite run with its results (UserError for an unknown id)."""
        with self._db.read() as conn:
            return _packed.unpack(_regress.get_run(conn, run_id))  # type: ignore[no-any-return]

    def list_regress_runs(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Suite runs newest first: id, suite, times, outcome, summary and ``verdicts``
        (how many entries x devices got each verdict); results via ``get_regress_run``."""
        check_page(limit, offset)
        with self._db.read() as conn:
            return _regress.list_runs(conn, limit, offset)

    def regress_history(
        self, entry: str, device_serial: str | None = None, limit: int = 365
    ) -> list[dict[str, Any]]:
        """An entry's stored results, oldest first: the newest ``limit`` of them."""
        check_page(limit, 0)
        with self._db.read() as conn:
            rows = _regress.history(conn, entry, device_serial, limit)
        return [_packed.unpack(r) for r in rows]

    def regress_baseline(
        self, entry: str, device_serial: str, run_id: str | None = None
    ) -> dict[str, Any] | None:
        """The result a ``last-good`` baseline means (None when there is none yet), or
        the pinned ``run_id``'s result for this entry and device (UserError if absent)."""
        with self._db.read() as conn:
            found: dict[str, Any] | None = (
                _regress.result_of(conn, run_id, entry, device_serial)
                if run_id is not None
                else _regress.last_good(conn, entry, device_serial)
            )
        return None if found is None else _packed.unpack(found)


def _postgres_engine(url: str, connect_timeout_s: float) -> Engine:
    """The PostgreSQL engine; psycopg is imported only by a store that uses it (an extra)."""
    try:
        from controller.store._postgres import PostgresDatabase
    except ImportError as exc:
        raise UserError(
            f"a PostgreSQL store needs psycopg ({exc}): pip install 'devicelab[postgresql]'"
        ) from exc
    return PostgresDatabase(url, connect_timeout_s)


def _reopen(
    root: Path,
    clock: Callable[[], float],
    busy_timeout_s: float,
    url: str | None = None,
    host: str | None = None,
) -> Store:
    return Store(root, clock=clock, busy_timeout_s=busy_timeout_s, url=url, host=host)
