"""Shell processes of the phone stand-in (test infrastructure): environment, spawning, kill-all.

Every process a stand-in shell starts carries ``DEVICELAB_STANDIN_TOKEN=<token>``
in its environment, inherited by its children, daemons included. Killing "all
processes started from shells" scans ``/proc/*/environ`` for that token, which
also finds ``nohup ... &`` daemons that left the shell's process group (a
process that scrubs its environment escapes; Linux only).
"""

from __future__ import annotations

import collections
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from phone_standin.sandbox import BIN_RELATIVE, PROPS_RELATIVE

TOKEN_ENV = "DEVICELAB_STANDIN_TOKEN"
log = logging.getLogger(__name__)


class ProcessRegistry:
    """Starts shell processes for one stand-in device and can kill them all."""

    def __init__(self, root: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.token = secrets.token_hex(8)
        self._extra_env = dict(extra_env or {})
        # Every command line a shell service received: on a phone, any app could see
        # them in `ps` while they run (tests check no secret travels this way).
        self.command_lines: collections.deque[str] = collections.deque(maxlen=10_000)

    def environment(self, request_env: Mapping[str, str]) -> dict[str, str]:
        """A small device-like environment, not the host's (no leaked venv/adb vars)."""
        host_path = os.environ.get("PATH", "/usr/bin:/bin")
        # The interpreter running the stand-in is the "device's" python3.
        python_dir = os.path.dirname(sys.executable)
        env = {
            "PATH": os.pathsep.join([str(self.root / BIN_RELATIVE), python_dir, host_path]),
            "HOME": str(self.root),
            "TMPDIR": str(self.root / "data/local/tmp"),
            "EXTERNAL_STORAGE": str(self.root / "sdcard"),
            "ANDROID_DATA": str(self.root / "data"),
            "ANDROID_ROOT": str(self.root / "system"),
            "LANG": "C.UTF-8",
            "DEVICELAB_STANDIN_ROOT": str(self.root),
            "DEVICELAB_STANDIN_PROPS": str(self.root / PROPS_RELATIVE),
        }
        env.update(request_env)
        env.update(self._extra_env)
        env[TOKEN_ENV] = self.token
        return env

    def spawn_shell(
        self, command: str | None, request_env: Mapping[str, str], merge_stderr: bool
    ) -> subprocess.Popen[bytes]:
        """Start ``/bin/sh -c command`` (or an interactive-less ``/bin/sh``) in the sandbox."""
        return subprocess.Popen(
            self.shell_argv(command),
            cwd=self.root,
            env=self.environment(request_env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            # Own session: a hang-up goes to this shell's group, never to the stand-in.
            start_new_session=True,
            bufsize=0,
        )

    def shell_argv(self, command: str | None) -> list[str]:
        """argv of a shell running command (None: reading commands from stdin)."""
        return ["/bin/sh", "-c", command] if command else ["/bin/sh"]

    def kill_all(self) -> int:
        """SIGKILL every live process carrying this device's token; return how many."""
        killed = 0
        for pid in self.marked_pids():
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                continue
        if killed:
            log.info("killed %d stand-in shell process(es)", killed)
        return killed

    def marked_pids(self) -> list[int]:
        """Host pids of the live processes carrying this device's token."""
        marker = f"{TOKEN_ENV}={self.token}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue  # exited meanwhile, or not ours to read
            if marker in environ.split(b"\0"):
                pids.append(int(entry.name))
        return pids
