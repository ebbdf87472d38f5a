"""The scheduler: claims queued jobs for free devices and runs them.

One ``Worker`` per process (``devicelab worker``, or started inside the API for
the simple case). Each reachable device gets at most one job at a time (the
store enforces it across processes); different devices run in parallel, one
thread each. Compile jobs run on the host in a slot of their own, so compiling
for a phone that is busy, or not even connected, does not wait for it.

A worker heartbeats and publishes its host's devices (``controller/lab_hosts.py``);
when one stops (controller restarted, killed, its host cut off), any worker on any
host recovers its jobs after ``DEVICELAB_WORKER_STALE_S``: re-queued while attempts
remain, else failed with a reason; a late write of the lost run is refused.
A worker that stops on purpose (``stop()``: ^C, SIGTERM, the end of the script
it runs in) hands its running jobs back at once instead: re-queued before it
closes the agent connections they use, no attempt counted.

Devices have a health state (``controller/device_states.py``), kept in the store
and shared by every worker: only an available device takes a job. A job whose
device failed it (``DeviceError``) is queued again and its device becomes suspect;
the worker then recovers it (``controller/recovery.py``) in the device's slot. A
health loop reads idle phones' battery and temperature (resting while low or hot),
and starts the recoveries that are due (a suspect device's next try, an offline
device adb lists again).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller import settings as lab_settings
from controller.agent_client import ProgressCallback
from controller.device_states import (
    DeviceState,
    HealthRead,
    HealthSettings,
    JobFailed,
    Recovered,
    RecoveryFailed,
    RecoveryStarted,
    recovery_due,
)
from controller.devices import Device, DeviceEntry, DeviceRegistry
from controller.errors import Error
from controller.jobs import JobState
from controller.lab_hosts import LabPresence
from controller.recovery import recover_device
from controller.runners import JobHooks, RunContext, run_job
from controller.store import (
    RUNNING_STATES,
    JobKind,
    JobRecord,
    JobStateError,
    Store,
    StoreCorruptError,
)

log = logging.getLogger("devicelab.worker")

POLL_INTERVAL_SEC = 0.2
# With a store that announces work (PostgreSQL's NOTIFY), polling is only a safety net.
LISTENING_POLL_INTERVAL_SEC = 5.0
HEARTBEAT_INTERVAL_SEC = 2.0
COMPILE_SLOT = "host-compiler"
HOST_KINDS: tuple[JobKind, ...] = ("compile",)  # run in the compile slot
DEVICE_KINDS: tuple[JobKind, ...] = ("profile", "inference")
PUSH_EVENT_INTERVAL_SEC = 0.2
PUSH_EVENT_FIRST_SEQ = -1_000_000_000
# While the store refuses writes (a full disk), how often a job's end is retried.
STORE_RETRY_INTERVAL_SEC = 1.0
# How often the health loop looks for recoveries due and readings to take.
HEALTH_TICK_SEC = 0.5
# States in which a phone's battery and temperature are read (resting comes and goes).
_READ_IN = (DeviceState.AVAILABLE, DeviceState.RESTING)


def stale_after_sec() -> float:
    """A worker silent this long is presumed gone (``DEVICELAB_WORKER_STALE_S``)."""
    return lab_settings.seconds("DEVICELAB_WORKER_STALE_S")


def device_accepts(
    registry: DeviceRegistry, entry: DeviceEntry, device_filter: dict[str, Any]
) -> bool:
    """Does the job's device filter (name, os, attributes) select this device?

    Called outside any store transaction: a ``framework:`` filter may start the
    device's agent to ask it. (Job kind and parent are the store's business.)
    """
    wanted = Device.from_filter(device_filter)
    if "framework:" in str(wanted.attributes):
        registry.probe(entry)  # frameworks come from the device's agent
    try:
        return entry.selected_by(wanted)
    except Error:  # a filter the cloud client would refuse (os without name or attributes)
        return False


def run_before_sigterm(cleanup: Callable[[], None]) -> None:
    """Have SIGTERM run ``cleanup`` before it ends this process as it would have.

    Python's default SIGTERM ends the process at once, without atexit: an
    in-process worker would abandon its running job. Only from the main thread,
    and only while SIGTERM has its default action (a script's own handler wins).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum: int, _frame: object) -> None:
        cleanup()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # die of SIGTERM, as the script's parent expects

    signal.signal(signal.SIGTERM, on_sigterm)


class PushRecorder:
    """Stores a job's push progress as ``push`` events (and calls an in-process hook).

    The submitting script usually runs in another process than the worker; it
    sees the push through these events (``payload`` is JSON ``[done, total]``).
    They take sequence numbers below the agent's (which start at 0), so a
    job's events still read in the order they happened.
    """

    def __init__(
        self, store: Store, job: JobRecord, hook: ProgressCallback | None, worker_id: str
    ) -> None:
        self.store = store
        self.job = job
        self.hook = hook
        self.worker_id = worker_id
        self._seq = PUSH_EVENT_FIRST_SEQ
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.hook is not None:
            self.hook(done, total)
        now = time.monotonic()
        if done < total and now - self._last < PUSH_EVENT_INTERVAL_SEC:
            return  # a store write per chunk would slow the push down
        self._last = now
        payload = json.dumps([done, total]).encode()
        self.store.append_events(
            self.job.id,
            [(self._seq, "push", payload)],
            attempt=self.job.attempt,
            worker_id=self.worker_id,  # a job handed back meanwhile refuses the write
        )
        self._seq += 1


class Worker:
    """Claims and runs jobs until ``stop()``.

    Example:
        worker = Worker(Store.default(), DeviceRegistry())
        worker.start()      # background threads
        ...
        worker.stop()
    """

    def __init__(
        self,
        store: Store,
        registry: DeviceRegistry,
        hooks: JobHooks | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.hooks = hooks
        self.worker_id = worker_id or f"{store.host}-{os.getpid()}-{secrets.token_hex(3)}"
        self._stop = threading.Event()
        # Set when there may be work: a submit in this process, or a job that ended
        # (its device is free). The dispatch loop also polls, for other processes.
        self._wake = threading.Event()
        self._busy: dict[str, str] = {}  # slot -> id of the job running there
        self._recovering: set[str] = set()  # devices this worker is recovering now
        self._last_reading: dict[str, float] = {}  # serial -> monotonic time of its reading
        self._seen: set[str] = set()  # devices this worker's registry has listed
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._poll_interval_s = POLL_INTERVAL_SEC
        self._lab = LabPresence(store, registry)

    def start(self) -> Worker:
        recovered = self.store.register_worker(self.worker_id, os.getpid(), self.store.host)
        self._lab.publish()
        for job in recovered:
            # info, not warning: an in-process worker must not print into its
            # host script (Python's last-resort handler prints warnings).
            log.info("recovered job %s: %s", job.id, job.message)
        if self.store.listen(self._wake.set, self._stop):
            self._poll_interval_s = LISTENING_POLL_INTERVAL_SEC
        for target in (self._heartbeat_loop, self._dispatch_loop, self._health_loop):
            thread = threading.Thread(
                target=target, name=f"devicelab-{target.__name__}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def wake(self) -> None:
        """Look for work now (a job was submitted)."""
        self._wake.set()

    @property
    def busy(self) -> bool:
        """Is a job of this worker running now?"""
        with self._lock:
            return bool(self._busy)

    def stop(self, timeout_sec: float = 10.0, why: str = "it stopped") -> None:
        """Claim nothing more and hand back the jobs still running; then join the loops.

        Call it before closing the registry: a job handed back is no longer this
        worker's, so closing the agent connection under it fails nothing.
        """
        self._stop.set()
        self._wake.set()
        with self._lock:
            running = list(self._busy.values())
        for job_id in running:
            self._hand_back(job_id, why)
        for thread in self._threads:
            thread.join(timeout_sec)

    def _hand_back(self, job_id: str, why: str) -> None:
        reason = f"worker {self.worker_id} handed it back ({why})"
        try:
            job = self.store.hand_back(job_id, self.worker_id, reason)
        except Error as exc:  # a full disk: recovered once our heartbeat is stale
            log.warning("job %s: could not hand it back: %s", job_id, exc)
            return
        if job is not None:
            log.info("job %s handed back: %s", job_id, job.message)

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            self.stop()

    # --- loops ---------------------------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL_SEC):
            try:
                self.store.heartbeat(self.worker_id)
                for job in self.store.recover_orphans(stale_after_sec()):
                    log.info("recovered orphan job %s: %s", job.id, job.message)
                self._lab.publish()
                self._lab.mark_unplaced(stale_after_sec(), DEVICE_KINDS)
            except Error as exc:
                log.warning("heartbeat failed: %s", exc)

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                started = self._dispatch_once()
            except StoreCorruptError as exc:  # no retry reads it back: say so once, stop
                log.error("worker %s stops: %s", self.worker_id, exc)
                self._stop.set()
                return
            except Error as exc:  # the store refuses writes (a full disk): one line a second
                log.warning("dispatch failed: %s", exc)
                self._stop.wait(STORE_RETRY_INTERVAL_SEC)
                started = False
            except Exception:  # the loop must outlive any one bad dispatch
                log.exception("dispatch failed")
                started = False
            if not started:
                self._wake.wait(self._poll_interval_s)
                self._wake.clear()

    def _dispatch_once(self) -> bool:
        started = self._claim(COMPILE_SLOT, None, HOST_KINDS, None)
        unwell = {s.serial for s in self.store.device_statuses() if not s.takes_jobs}
        free = [
            entry
            for entry in self.registry.entries(probe_frameworks=False)
            # an unwell device: the store refuses the claim too; this saves a write
            if entry.serial not in self._busy
            and entry.serial not in self._recovering
            and entry.serial not in unwell
        ]
        if not free:
            return started
        # The few distinct filters of runnable jobs, matched here outside any
        # transaction; the store then claims among the jobs with accepted filters.
        filters = self.store.runnable_filters(DEVICE_KINDS)
        for entry in free:
            accepted = [f for f in filters if device_accepts(self.registry, entry, f)]
            if accepted:
                started |= self._claim(entry.serial, entry, DEVICE_KINDS, accepted)
        return started

    def _claim(
        self,
        slot: str,
        entry: DeviceEntry | None,
        kinds: tuple[JobKind, ...],
        device_filters: list[dict[str, Any]] | None,
    ) -> bool:
        with self._lock:
            if slot in self._busy or slot in self._recovering:
                return False
            job = self.store.claim(self.worker_id, slot, kinds=kinds, device_filters=device_filters)
            if job is None:
                return False
            if self._stop.is_set():  # stop() came while we claimed: not ours to run
                self._hand_back(job.id, "it was stopping")
                return False
            self._busy[slot] = job.id
        context = RunContext(
            self.store,
            self.worker_id,
            self.registry,
            self.hooks.listener if self.hooks else None,
            PushRecorder(
                self.store,
                job,
                self.hooks.upload_progress(job.id) if self.hooks else None,
                self.worker_id,
            ),
        )
        thread = threading.Thread(
            target=self._run,
            args=(context, job, entry, slot),
            name=f"devicelab-job-{job.id}",
            daemon=True,
        )
        thread.start()
        return True

    def _run(self, context: RunContext, job: Any, entry: DeviceEntry | None, slot: str) -> None:
        fault = None
        try:
            fault = run_job(context, job, entry)
            if fault is None and entry is not None and entry.rests and not self._stop.is_set():
                # Before the slot is free: a job that left the phone hot or drained rests
                # it before it takes the next one.
                self._read_health(entry, HealthSettings.from_env())
        except Exception as exc:  # the store refused even the job's end (a full disk)
            self._end_once_writable(job, exc)
        finally:
            with self._lock:
                self._busy.pop(slot, None)
                if fault is not None and entry is not None:
                    self._recovering.add(entry.serial)  # no claim for it in between
            self._wake.set()
        if fault is not None and entry is not None:
            # The job is queued again already (another device may take it now); this
            # one is suspect, and recovered in its slot before it takes another job.
            self._device_failed(entry.serial, fault, job.id)

    # --- device health -------------------------------------------------------------------
    def _device_failed(self, serial: str, reason: str, job_id: str) -> None:
        try:
            self.store.device_event(serial, JobFailed(reason), job_id=job_id)
        except Error as exc:
            log.warning("[%s] could not record its failure: %s", serial, exc)
        self._recover(serial)  # releases the slot taken in _run

    def _health_loop(self) -> None:
        while not self._stop.wait(HEALTH_TICK_SEC):
            try:
                self._health_once()
            except StoreCorruptError:
                return  # the dispatch loop says so, once, and stops the worker
            except Error as exc:
                log.warning("health check failed: %s", exc)
            except Exception:  # the loop must outlive any one bad check
                log.exception("health check failed")

    def _health_once(self) -> None:
        """Start the recoveries that are due; read idle phones' battery and temperature."""
        settings = HealthSettings.from_env()
        statuses = {s.serial: s for s in self.store.device_statuses()}
        entries = {e.serial: e for e in self.registry.entries(probe_frameworks=False)}
        now = datetime.now(UTC)
        self._seen.update(entries)
        for serial, status in statuses.items():
            if serial not in self._seen:
                continue  # another adb server's device (another worker's to recover)
            if recovery_due(status, now, settings, listed=serial in entries):
                self._start_recovery(serial)
        for serial, entry in entries.items():
            known = statuses.get(serial)
            if known is not None and known.state not in (
                DeviceState.AVAILABLE,
                DeviceState.RESTING,
            ):
                continue
            if not entry.rests or self._stop.is_set():
                continue  # this host and its simulated SoCs: no battery to mind
            with self._lock:
                if serial in self._busy or serial in self._recovering:
                    continue  # a reading while a job runs would measure the job
            last = self._last_reading.get(serial)
            if last is None or time.monotonic() - last >= settings.check_interval_s:
                self._read_health(entry, settings)

    def _read_health(self, entry: DeviceEntry, settings: HealthSettings) -> None:
        """Battery and temperature: an available phone low or hot rests, a resting one
        that charged or cooled works again."""
        self._last_reading[entry.serial] = time.monotonic()
        snapshot = entry.transport.health()
        if "error" in snapshot:
            return  # no reading is no reason to rest
        moved = self.store.device_event(entry.serial, HealthRead(snapshot), settings)
        if moved is not None:
            log.info("[%s] %s: %s", entry.serial, moved.state.value, moved.reason)
            self._wake.set()

    def _start_recovery(self, serial: str) -> None:
        with self._lock:
            if serial in self._busy or serial in self._recovering or self._stop.is_set():
                return
            self._recovering.add(serial)
        threading.Thread(
            target=self._recover, args=(serial,), name=f"devicelab-recover-{serial}", daemon=True
        ).start()

    def _recover(self, serial: str) -> None:
        """One recovery of ``serial`` (the caller put it in ``_recovering``)."""
        try:
            settings = HealthSettings.from_env()
            now = datetime.now(UTC)
            started = self.store.device_event(serial, RecoveryStarted(now), settings)
            if started is None:
                return  # not suspect (any more), or another worker took it
            log.info("[%s] %s", serial, started.reason)
            outcome = recover_device(self.registry, serial, settings)
            event = (
                Recovered(outcome.detail)
                if outcome.ok
                else RecoveryFailed(outcome.detail, outcome.listed)
            )
            moved = self.store.device_event(serial, event, settings)
            if moved is not None:
                log.info("[%s] %s: %s", serial, moved.state.value, moved.reason)
        except Error as exc:
            log.warning("[%s] recovery: %s", serial, exc)
        except Exception:
            log.exception("[%s] recovery crashed", serial)
        finally:
            self._last_reading.pop(serial, None)  # read it again before its next job
            with self._lock:
                self._recovering.discard(serial)
            self._wake.set()

    def _end_once_writable(self, job: JobRecord, exc: Exception) -> None:
        """Fail the job as soon as the store takes writes again.

        Left as it was, the job would stay running for good (this worker keeps
        heartbeating, so no recovery fires) and its device would take no other job.
        """
        log.error("job %s: the store refused a write: %s", job.id, exc)
        message = f"the store could not record the job: {exc}"
        while True:
            try:
                self.store.transition(
                    job.id, JobState.FAILED, message, RUNNING_STATES, worker_id=self.worker_id
                )
                return
            except JobStateError:
                return  # ended, handed back or taken over meanwhile
            except Error as retry:
                log.debug("job %s: store still refuses writes: %s", job.id, retry)
            if self._stop.wait(STORE_RETRY_INTERVAL_SEC):
                return  # stopping: stop() hands it back, or a recovery re-queues it
