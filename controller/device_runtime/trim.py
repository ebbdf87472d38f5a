"""What the device runtime leaves out: what the agent never imports or reads.

Each rule names why; sizes are of the unpacked runtime (measured with
``scripts/bench_device_runtime.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

# Standard library parts for people at a terminal, for building packages, or for tests.
STDLIB_DROPPED = (
    "test", "idlelib", "tkinter", "turtledemo", "turtle.py", "ensurepip", "lib2to3",
    "pydoc_data", "distutils", "venv", "unittest/test", "sqlite3/test", "ctypes/test",
    "config-3.11-*-linux-gnu",
)  # fmt: skip
# Wheel parts for development or for host-side tools (the controller quantizes, not the agent).
SITE_DROPPED = (
    "numpy/_core/include", "numpy/_core/tests", "numpy/tests", "numpy/*/tests",
    "numpy/f2py", "numpy/typing/tests", "numpy/_pyinstaller", "numpy/doc",
    "onnxruntime/tools", "onnxruntime/transformers", "onnxruntime/quantization",
    "onnxruntime/datasets", "onnxruntime/backend",
    "psutil/tests", "grpc/_cython/_credentials", "google/protobuf/testdata",
    "tqdm/contrib", "*/__pycache__",
    # LiteRT's WebGPU accelerator (17 MB) needs the GPU driver a glibc process cannot load
    # on a phone; the agent asks LiteRT for the CPU only.
    "ai_edge_litert/libLiteRtWebGpuAccelerator.so",
    # LiteRT's NPU compiler and dispatch plugins (Intel OpenVINO, Qualcomm, MediaTek, ...)
    # link their vendors' SDKs, which no wheel ships (the x86_64 ones need libopenvino and
    # libQnnLpai); the agent reaches the NPU through onnxruntime-qnn or the QNN tools.
    "ai_edge_litert/vendors",
)  # fmt: skip


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def trim(stdlib: Path, site_packages: Path) -> None:
    """Delete the dropped parts in place."""
    for pattern in STDLIB_DROPPED:
        for path in stdlib.glob(pattern):
            _remove(path)
    for pattern in SITE_DROPPED:
        for path in site_packages.glob(pattern):
            _remove(path)
    for path in [*stdlib.rglob("__pycache__"), *site_packages.rglob("__pycache__")]:
        _remove(path)
    for path in [*site_packages.rglob("*.pyi"), *site_packages.rglob("*.h")]:
        _remove(path)
