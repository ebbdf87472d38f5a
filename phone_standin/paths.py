"""Device path mapping shared by the shell and sync services (phone stand-in, test infrastructure).

The sandbox directory plays the device's ``/``. Two rules, one object:

* **sync** (push/pull/stat/list) maps *every* absolute device path into the
  sandbox: ``/data/local/tmp/x`` -> ``SANDBOX/data/local/tmp/x``, ``/etc/x`` ->
  ``SANDBOX/etc/x``. ``..`` is resolved against the device root first, so a sync
  request never touches host files outside the sandbox.
* **shell** commands run on the host's ``/bin/sh``, so host tools (``/bin/sh``,
  ``/usr/bin/python3``, ``/dev/null``) must keep working. Only absolute paths
  under the *device roots* are rewritten into the sandbox:

  - storage roots ``/data /sdcard /storage /vendor /system /product /odm``:
    always rewritten (they do not exist on a Linux host, or must not be touched);
  - overlay roots ``/sys /proc``: rewritten only when the sandbox holds that path
    (the fake thermal/cpufreq files), otherwise the host's real file is used.

  A path is recognised only where a word starts (start of the command, after
  whitespace, a quote, ``=``, ``:``, ``>``, ``<``, ``(``, ``;``, ``|``, ``&``),
  never inside another path or after ``$VAR``/``${VAR}``/``$(...)``; it ends at
  whitespace, a quote or a shell metacharacter. Paths built at runtime
  (``$DIR/data``) are not rewritten. For the device roots both rules agree,
  which is where the product works.

This is a convenience mapping, not a security boundary: shell commands run as
the host user.

In the aarch64 stand-in the shell runs chrooted in the sandbox, so commands are
not rewritten (``rewrite_commands=False``), and what sync writes is given to the
shell user (``file_owner``), as adbd (running as that user) would create it.
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
from pathlib import Path

STORAGE_ROOTS = ("data", "sdcard", "storage", "vendor", "system", "product", "odm")
OVERLAY_ROOTS = ("sys", "proc")

_ROOTS = "|".join(STORAGE_ROOTS + OVERLAY_ROOTS)
_STOP = r"\s'\"`;|&<>()$\\:"
# Not preceded by something that makes it part of a longer path or expansion.
_DEVICE_PATH = re.compile(rf"(?<![\w.~/$}})\]\-])/(?:{_ROOTS})(?=/|$|[{_STOP}])[^{_STOP}]*")


class DevicePaths:
    """Maps device paths to host paths inside one sandbox directory."""

    def __init__(
        self,
        sandbox: Path,
        rewrite_commands: bool = True,
        file_owner: tuple[int, int] | None = None,
    ) -> None:
        self.root = Path(sandbox).resolve()
        self.rewrites_commands = rewrite_commands
        self.file_owner = file_owner

    def to_host(self, device_path: str) -> Path:
        """Map any device path (relative ones are relative to ``/``) into the sandbox."""
        normalized = posixpath.normpath("/" + device_path.lstrip("/"))
        relative = normalized.lstrip("/")
        return self.root / relative if relative else self.root

    def rewrite_command(self, command: str) -> str:
        """Rewrite device-root paths in a shell command line (see the module docstring)."""
        if not self.rewrites_commands:
            return command
        return _DEVICE_PATH.sub(self._rewrite_match, command)

    def make_parents(self, host_path: Path) -> None:
        """Create the missing parent directories of host_path (owned by file_owner)."""
        missing = [p for p in host_path.parents if not p.exists() and p.is_relative_to(self.root)]
        host_path.parent.mkdir(parents=True, exist_ok=True)
        for directory in missing:
            self.give_to_owner(directory)

    def give_to_owner(self, host_path: Path) -> None:
        """chown a file sync wrote to file_owner (nothing in the host-shell stand-in)."""
        if self.file_owner is not None:
            os.chown(host_path, *self.file_owner, follow_symlinks=False)

    def _rewrite_match(self, match: re.Match[str]) -> str:
        device_path = match.group(0)
        top = device_path.split("/", 2)[1]
        if top in OVERLAY_ROOTS and not self._in_sandbox(device_path):
            return device_path
        host = str(self.to_host(device_path))
        # Keep a trailing slash: "cp x /data/local/tmp/" means "into the directory".
        return host + "/" if device_path.endswith("/") and len(device_path) > 1 else host

    def _in_sandbox(self, device_path: str) -> bool:
        host = str(self.to_host(device_path))
        if any(char in device_path for char in "*?["):
            return bool(glob.glob(host))
        return Path(host).exists()
