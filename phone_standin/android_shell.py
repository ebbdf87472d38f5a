"""Shell processes of the aarch64 stand-in: chrooted, as the shell user, under qemu-user.

Each ``shell:`` command is ``nsenter`` into the namespace of
:class:`phone_standin.emulation.EmulatedNamespace` (chroot into the
device root, uid/gid 2000) running ``/system/bin/sh -c CMD``, which the
namespace's binfmt_misc handler hands to qemu-aarch64. The environment is
adb shell's on a phone: its PATH and the ``ANDROID_*`` variables init sets,
no HOME, no TMPDIR, nothing of the host's.

Kill-all (:meth:`ProcessRegistry.kill_all`) still works: it scans the host's
``/proc``, which lists the namespace's processes under host pids, and an
emulated process's ``environ`` is the one qemu was started with, token included.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from phone_standin.android_root import ANDROID_PATH, SHELL_GID, SHELL_UID
from phone_standin.emulation import EmulatedNamespace
from phone_standin.processes import TOKEN_ENV, ProcessRegistry

# init's environment on Android 14 (system/core/rootdir/init.environ.rc.in).
ANDROID_ENV = {
    "PATH": ANDROID_PATH,
    "ANDROID_ASSETS": "/system/app",
    "ANDROID_DATA": "/data",
    "ANDROID_ROOT": "/system",
    "ANDROID_STORAGE": "/storage",
    "ANDROID_ART_ROOT": "/apex/com.android.art",
    "ANDROID_I18N_ROOT": "/apex/com.android.i18n",
    "ANDROID_TZDATA_ROOT": "/apex/com.android.tzdata",
    "EXTERNAL_STORAGE": "/sdcard",
    "ASEC_MOUNTPOINT": "/mnt/asec",
}
DEVICE_SHELL = "/system/bin/sh"


class ChrootProcessRegistry(ProcessRegistry):
    """Starts shell commands inside an :class:`EmulatedNamespace`, as the shell user."""

    def __init__(
        self, root: Path, namespace: EmulatedNamespace, extra_env: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(root, extra_env)
        self.namespace = namespace

    def environment(self, request_env: Mapping[str, str]) -> dict[str, str]:
        """Android's adb shell environment plus the request's (TERM) and the token."""
        env = {**ANDROID_ENV, **request_env, **self._extra_env}
        env[TOKEN_ENV] = self.token
        return env

    def shell_argv(self, command: str | None) -> list[str]:
        """``nsenter ... /system/bin/sh -c command`` as uid/gid 2000 in the device root."""
        shell = [DEVICE_SHELL, "-c", command] if command else [DEVICE_SHELL]
        return [*self.namespace.enter_argv(SHELL_UID, SHELL_GID), *shell]
