"""Every version that goes into the device runtime, in one place.

The runtime is Debian's arm64 CPython with its glibc and libraries, plus the
agent's wheels built for ``manylinux`` aarch64. Debian packages are pinned by
release (a suite serves one version of each, and security updates replace it:
the versions actually used are recorded in the bundle's manifest); wheels are
pinned exactly. The agent's own minimums are in ``pyproject.toml``
(``dependencies`` and the ``agent`` extra); ``tests/test_device_runtime.py``
checks these pins satisfy them.
"""

from __future__ import annotations

PYTHON_VERSION = "3.11"
DEBIAN_SUITE = "bookworm"  # glibc 2.36: the newest manylinux tag a wheel may carry
GLIBC_VERSION = (2, 36)
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security"

# Roots of the Debian closure; apt computes the rest (~40 packages).
DEBIAN_PACKAGES = (
    f"python{PYTHON_VERSION}-minimal",
    f"libpython{PYTHON_VERSION}-stdlib",
    "libstdc++6",  # manylinux wheels link the system's C++ runtime
    "libgcc-s1",
    "libatomic1",  # onnxruntime-qnn's libQnnSystem.so
)
# Loaded from the device, never shipped: a Snapdragon Linux board's image provides the
# DSP RPC library the HTP stubs of onnxruntime-qnn link (README: "Preparing a device").
DEVICE_PROVIDED_LIBRARIES = frozenset({"libcdsprpc.so"})
# In the closure only as dependencies of packaging tools or as data we never read.
DEBIAN_EXCLUDED = frozenset(
    {"dpkg", "tar", "readline-common", "libtirpc-common", "media-types", "gcc-12-base"}
)

# name -> exact version (the agent's imports and theirs; sympy, which
# onnxruntime-qnn declares, is not needed to run and is left out).
WHEELS: dict[str, str] = {
    "grpcio": "1.85.3",
    "protobuf": "7.36.2",
    "numpy": "2.4.6",
    "psutil": "7.2.2",
    "onnxruntime": "1.32.0",
    "ai-edge-litert": "2.3.0",
    "flatbuffers": "25.12.19",
    "ml-dtypes": "0.6.0",
    "packaging": "26.4",
    "typing-extensions": "4.16.0",
    "backports-strenum": "1.2.8",
    "tqdm": "4.70.1",
}
QNN_WHEELS: dict[str, str] = {"onnxruntime-qnn": "2.7.0"}


def wheel_pins(qnn: bool) -> dict[str, str]:
    """The wheels of a runtime with or without onnxruntime-qnn."""
    return {**WHEELS, **(QNN_WHEELS if qnn else {})}
