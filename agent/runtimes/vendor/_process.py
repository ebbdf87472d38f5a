"""Running one vendor tool: argv in, exit code, output and the child's peak memory out.

The vendor tools run in their own process, so the agent's ``VmHWM`` meter
(``agent/memory.py``) cannot see their memory. ``os.wait4`` returns the child's
own resource usage, whose ``ru_maxrss`` is that process's peak RSS: the honest
number for a stage that ran inside the tool.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.errors import AgentError

# Output beyond this is cut (from the front) in error messages: the tail says why.
_ERROR_TAIL_CHARS = 2000


class ToolTimeoutError(AgentError):
    """A vendor tool ran past its time limit and was killed."""


@dataclass(frozen=True)
class ToolRun:
    """What one finished tool process left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_bytes: int

    def failure(self, tool: str) -> str:
        """A one-paragraph reason for a non-zero exit, ending with the tool's own last words."""
        tail = (self.stderr.strip() or self.stdout.strip())[-_ERROR_TAIL_CHARS:]
        return f"{tool} exited with code {self.returncode}: {tail or '(no output)'}"


def run_tool(
    argv: Sequence[str],
    timeout_s: float,
    workdir: Path,
    env: Mapping[str, str] | None = None,
) -> ToolRun:
    """Run ``argv`` in ``workdir`` and wait for it, killing it after ``timeout_s``.

    Output goes to files, not pipes: a chatty tool cannot fill a pipe and stall
    while we wait for it.

    Raises:
        ToolTimeoutError: The tool did not finish within ``timeout_s`` (it is killed).
        AgentError: The executable could not be started.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    name = Path(argv[0]).name
    out_path, err_path = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
    start = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        try:
            proc = subprocess.Popen(list(argv), stdout=out, stderr=err, cwd=workdir, env=env)
        except OSError as exc:
            raise AgentError(f"cannot start {argv[0]}: {exc}") from exc
        timed_out = threading.Event()
        timer = threading.Timer(timeout_s, _kill, (proc, timed_out))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if timed_out.is_set():
        raise ToolTimeoutError(f"{name} did not finish within {timeout_s:.0f} s and was killed")
    return ToolRun(
        argv=tuple(argv),
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        wall_s=time.monotonic() - start,
        peak_rss_bytes=usage.ru_maxrss * 1024,  # Linux and Android report KiB
    )


def _kill(proc: subprocess.Popen[bytes], timed_out: threading.Event) -> None:
    timed_out.set()
    proc.kill()


def tool_env(
    library_dirs: Sequence[str | Path], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The agent's environment with ``library_dirs`` first on ``LD_LIBRARY_PATH``.

    The tools ``dlopen`` their backend / delegate libraries by name, so the folders
    holding them must be on the loader path of the tool's process.
    """
    env = dict(os.environ)
    current = [d for d in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    ordered = list(dict.fromkeys([*(str(d) for d in library_dirs), *current]))
    env["LD_LIBRARY_PATH"] = os.pathsep.join(ordered)
    env.update(extra or {})
    return env
