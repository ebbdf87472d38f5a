"""Where the agent looks for a native library: one search, three documented policies.

Every runtime path looks first in the job's ``library_dirs`` (the controller sends
them: a user's own delegate or backend build wins). What comes after depends on who
loads the library, so the policy is an explicit argument, never a second function
with the same name:

* ``Policy.QNN_EP``: then the ``onnxruntime_qnn`` package folder, which ships the QNN
  EP plugin and the QNN backend libraries (``libQnnHtp.so``, ``libQnnSystem.so``) that
  ONNX Runtime's QNN EP loads in this process.
* ``Policy.DEVICE``: then ``LD_LIBRARY_PATH`` and the Android vendor/system folders,
  where a phone keeps TFLite delegate libraries (``libQnnTFLiteDelegate.so``, the GPU
  and NNAPI delegates) that LiteRT ``dlopen``s.
* ``Policy.QNN_SDK``: then ``$QNN_SDK_ROOT/lib/<target>`` for each SDK target, where
  the QNN SDK keeps the backend libraries its own ``qnn-net-run`` loads.

Example:
    find_library("libQnnHtp.so", config.library_dirs, Policy.QNN_EP)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

#: Android folders searched last for delegate libraries (``Policy.DEVICE``).
ANDROID_LIBRARY_DIRS = (
    "/vendor/lib64",
    "/odm/lib64",
    "/system/vendor/lib64",
    "/system/lib64",
    "/vendor/lib",
    "/system/lib",
)
#: The environment variable naming the QNN SDK's root folder.
SDK_ENV = "QNN_SDK_ROOT"
#: SDK target folders tried, phones first, then Snapdragon Linux boards, then a host.
SDK_TARGETS = (
    "aarch64-android",
    "aarch64-oe-linux-gcc11.2",
    "aarch64-ubuntu-gcc9.4",
    "x86_64-linux-clang",
)


class Policy(Enum):
    """What is searched after the job's own ``library_dirs`` (see the module docstring)."""

    QNN_EP = "qnn_ep"
    DEVICE = "device"
    QNN_SDK = "qnn_sdk"


def qnn_package_dir() -> Path | None:
    """Directory of the ``onnxruntime_qnn`` package (EP + QNN libraries), or None."""
    try:
        import onnxruntime_qnn
    except ImportError:
        return None
    return Path(onnxruntime_qnn.get_library_path()).parent


def sdk_root() -> Path | None:
    """``$QNN_SDK_ROOT`` as a path, or None when unset."""
    root = os.environ.get(SDK_ENV, "")
    return Path(root) if root else None


def search_dirs(library_dirs: Sequence[str], policy: Policy) -> list[Path]:
    """The folders searched under ``policy``, in order, without repeats."""
    after: list[Path] = []
    if policy is Policy.QNN_EP:
        package = qnn_package_dir()
        after = [package] if package is not None else []
    elif policy is Policy.DEVICE:
        from_env = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
        after = [Path(d) for d in (*from_env, *ANDROID_LIBRARY_DIRS)]
    elif policy is Policy.QNN_SDK:
        root = sdk_root()
        after = [root / "lib" / target for target in SDK_TARGETS] if root else []
    return list(dict.fromkeys([*(Path(d) for d in library_dirs), *after]))


def find_in(name: str, dirs: Sequence[Path]) -> Path | None:
    """The first ``dirs/name`` that is a file, or None."""
    return next((d / name for d in dirs if (d / name).is_file()), None)


def find_library(name: str, library_dirs: Sequence[str], policy: Policy) -> Path | None:
    """The first ``name`` in ``search_dirs(library_dirs, policy)``; None when absent."""
    return find_in(name, search_dirs(library_dirs, policy))


def searched(library_dirs: Sequence[str], policy: Policy) -> str:
    """The searched folders as an error message names them."""
    return ", ".join(str(d) for d in search_dirs(library_dirs, policy)) or "nowhere"
