"""``--target_runtime qnn_lib_aarch64_android``: a QNN model library (``.so``) for Android.

Only Qualcomm's own tools make one, so they are used where ``QNN_SDK_ROOT`` provides them,
with the flags the QNN SDK documents:

1. ``qnn-onnx-converter --input_network model.onnx --output_path model.cpp`` writes the
   graph as ``model.cpp`` and its weights as ``model.bin``;
2. ``qnn-model-lib-generator -c model.cpp -b model.bin -o libs -t aarch64-android``
   builds ``libs/aarch64-android/libmodel.so`` with the Android NDK's ``ndk-build``.

``onnxruntime-qnn`` ships QNN's runtime libraries only, not these tools. ``require``
runs at submit, so a host without them refuses the job naming exactly what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from controller.errors import UserError

_HOST_DIR = "bin/x86_64-linux-clang"
#: Building the C++ of a large graph takes minutes; past this it is stuck.
TOOL_TIMEOUT_S = 3600


@dataclass(frozen=True)
class QnnTools:
    """The QNN SDK and NDK tools found on this host."""

    sdk_root: Path
    converter: Path
    lib_generator: Path
    ndk_build_dir: Path

    def env(self) -> dict[str, str]:
        """The tools' environment: the SDK's Python modules and libraries, ndk-build on PATH."""
        env = dict(os.environ)
        python = self.sdk_root / "lib" / "python"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(python), env.get("PYTHONPATH")]))
        libs = self.sdk_root / "lib" / "x86_64-linux-clang"
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            filter(None, [str(libs), env.get("LD_LIBRARY_PATH")])
        )
        env["PATH"] = os.pathsep.join([str(self.ndk_build_dir), env.get("PATH", "")])
        return env


def require() -> QnnTools:
    """The tools, or a UserError listing each one that is missing.

    Raises:
        UserError: e.g. "... and here QNN_SDK_ROOT is not set (...); the Android NDK: ...".
    """
    missing: list[str] = []
    root_text = os.environ.get("QNN_SDK_ROOT", "")
    root = Path(root_text)
    tools = [root / _HOST_DIR / "qnn-onnx-converter", root / _HOST_DIR / "qnn-model-lib-generator"]
    if not root_text:
        missing.append(
            "QNN_SDK_ROOT is not set (it names the Qualcomm AI Engine Direct SDK, which "
            "holds qnn-onnx-converter and qnn-model-lib-generator)"
        )
    else:
        missing += [f"{tool} does not exist" for tool in tools if not tool.is_file()]
    ndk = _ndk_build_dir()
    if ndk is None:
        missing.append(
            "the Android NDK: ANDROID_NDK_ROOT is not set to an NDK with ndk-build, and "
            "ndk-build is not on PATH"
        )
    if missing or ndk is None:
        raise UserError(
            "--target_runtime qnn_lib_aarch64_android needs Qualcomm's QNN SDK tools and the "
            "Android NDK on this host, and here " + "; ".join(missing) + ". Use "
            "--target_runtime qnn_context_binary for an HTP artifact without them"
        )
    return QnnTools(root, tools[0], tools[1], ndk)


def _ndk_build_dir() -> Path | None:
    root = os.environ.get("ANDROID_NDK_ROOT") or os.environ.get("ANDROID_NDK_HOME")
    if root and (Path(root) / "ndk-build").is_file():
        return Path(root)
    found = shutil.which("ndk-build")
    return Path(found).parent if found else None


def build(onnx_model: Path, workdir: Path) -> Path:
    """Convert ``onnx_model`` and build its Android aarch64 library; returns the ``.so``.

    Raises:
        UserError: a tool is missing, or one failed (with the end of its output).
    """
    tools = require()
    workdir.mkdir(parents=True, exist_ok=True)
    cpp = workdir / f"{onnx_model.stem}.cpp"
    _run(
        [str(tools.converter), "--input_network", str(onnx_model), "--output_path", str(cpp)],
        tools,
        workdir,
    )
    libs = workdir / "libs"
    bin_file = cpp.with_suffix(".bin")
    _run(
        [str(tools.lib_generator), "-c", str(cpp), "-b", str(bin_file), "-o", str(libs)]
        + ["-t", "aarch64-android"],
        tools,
        workdir,
    )
    built = sorted((libs / "aarch64-android").glob("*.so"))
    if not built:
        raise UserError(f"qnn-model-lib-generator wrote no .so under {libs / 'aarch64-android'}")
    return built[0]


def _run(argv: list[str], tools: QnnTools, cwd: Path) -> None:
    try:
        run = subprocess.run(
            argv, cwd=cwd, env=tools.env(), capture_output=True, text=True, timeout=TOOL_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"{Path(argv[0]).name} could not run: {exc}") from exc
    if run.returncode != 0:
        tail = (run.stderr or run.stdout).strip()[-2000:]
        raise UserError(f"{Path(argv[0]).name} failed (exit {run.returncode}): {tail}")
