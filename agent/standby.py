"""The next job's process, started while the device is idle.

Spawning a job's process and importing numpy, the agent's job code and the
runtime took ~120 ms of a tiny job's ~200 ms from submit to result
(``scripts/bench_latency.py``). So once a job's process is gone, the agent
starts the next one and lets it import, and the next job takes it.

What keeps this honest:

- **One process per job still**: a started process runs one job and ends with
  it; nothing of one job's runtime state reaches the next.
- **Cold stays cold**: the process imports code only (``Runtime.prepare``: the
  runtime's module and native library); it creates no session, interpreter or
  environment and opens no model file. The job itself prepares its runtime
  before its first load too, so a first load measures the same work whether or
  not its process was started ahead.
- **Quiet while measuring**: the next process is started once the current
  job's process sent its last item, never during a job, and a job starts only
  once the previous job's process is gone: during a timed loop the only process
  of ours beside the agent is the job's own.
- **Which runtime**: the one the previous job used (the likely next one); a
  different runtime is still imported by the job itself, just not ahead.
"""

from __future__ import annotations

import logging
import threading

from agent.isolation import JobProcess

log = logging.getLogger("devicelab.agent")


class JobProcesses:
    """Hands out job processes, keeping one started ahead when ``ahead`` is on.

    Example:
        processes = JobProcesses()
        process = processes.take(("onnxruntime",))   # started ahead, or now
        for item in process.run(func, args, cancel): ...
        processes.job_ended(process, ("onnxruntime",))  # reaped, the next one started
    """

    def __init__(self, ahead: bool = True) -> None:
        self.ahead = ahead
        self._lock = threading.Lock()
        self._waiting: JobProcess | None = None
        self._reaper: threading.Thread | None = None

    def take(self, runtimes: tuple[str, ...]) -> JobProcess:
        """A process for one job: the one started ahead if it still lives, else a new one.

        The last job's process is gone first (nothing of ours runs beside a job). The
        waiting process is taken whatever it preloaded: one still importing is further
        along than a new one, and the job prepares its own runtime anyway.
        """
        with self._lock:
            reaper, self._reaper = self._reaper, None
        if reaper is not None:
            reaper.join()
        with self._lock:
            waiting, self._waiting = self._waiting, None
        if waiting is not None and waiting.is_alive():
            return waiting
        if waiting is not None:  # killed while it waited (low memory killer, a user)
            log.info("the job process started ahead (pid %s) is gone; starting one", waiting.pid)
            waiting.discard()
        return JobProcess(preload=runtimes)

    def job_ended(self, process: JobProcess, runtimes: tuple[str, ...]) -> None:
        """``process`` ran its job: once it is gone, start the next job's process.

        In the background: the job's stream ends without waiting for its process's exit
        (3-18 ms here) nor the next one's start (up to 8 ms on a busy host).
        """

        def reap_and_refill() -> None:
            process.reap()
            self.refill(runtimes)

        reaper = threading.Thread(target=reap_and_refill, name="devicelab-reaper", daemon=True)
        with self._lock:
            self._reaper = reaper
        reaper.start()

    def refill(self, runtimes: tuple[str, ...]) -> None:
        """Start the next job's process now (call it once the last job's process ended)."""
        if not self.ahead:
            return
        with self._lock:
            if self._waiting is not None:
                return
            self._waiting = JobProcess(preload=runtimes)

    def close(self) -> None:
        """End the process waiting for a job, if any."""
        with self._lock:
            waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.discard()
