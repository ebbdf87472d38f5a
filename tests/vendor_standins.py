"""Stand-ins for the vendor tools devicelab cannot ship or download (test infrastructure).

``qnn-net-run``, ``qnn-profile-viewer`` and ``benchmark_model`` as small Python
scripts that check their command line the way the real tool would and print a
real output sample stored in ``tests/data/vendor_tools`` (its README names where
each came from). Only the vendor binary is replaced; the agent's runner is real.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data" / "vendor_tools"
VIEWER_TEXT = DATA / "qnn_profile_viewer_basic.txt"
VIEWER_CSV = DATA / "qnn_htp_detailed_simulator.csv"
MOBILENET = DATA / "benchmark_model_mobilenet_v1_op_profiling.txt"
MI11_SUMMARY = DATA / "benchmark_model_mi11_nnapi_gpu_fp16.txt"
MI11_PROFILE = DATA / "benchmark_model_mi11_nnapi_gpu_op_profile.txt"
MI11_FAILURE = DATA / "benchmark_model_mi11_nnapi_failure.txt"

# --------------------------------------------------------------------------------------
# Stand-in executables (test infrastructure: they replace binaries we cannot ship)
# --------------------------------------------------------------------------------------

_COMMON = """
import json, os, sys, time
from pathlib import Path
def log_argv():
    if os.environ.get("STANDIN_LOG"):
        with open(os.environ["STANDIN_LOG"], "a") as f:
            f.write(json.dumps(sys.argv) + "\\n")
def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)
"""

QNN_NET_RUN_STANDIN = (
    _COMMON
    + """
log_argv()
args = sys.argv[1:]
if args == ["--version"]:
    print("qnn-net-run pid:1947023")
    print("QNN SDK v2.13.2.230822171732_60416")
    sys.exit(0)
known = {"--backend", "--model", "--retrieve_context", "--input_list", "--output_dir",
         "--num_inferences", "--profiling_level", "--perf_profile", "--config_file"}
if len(args) % 2:
    fail("ERROR: every option takes a value")
opts = dict(zip(args[::2], args[1::2]))
unknown = set(opts) - known
if unknown:
    fail(f"ERROR: Invalid argument passed: {sorted(unknown)}")
if ("--model" in opts) == ("--retrieve_context" in opts):
    fail("ERROR: --retrieve_context and --model are mutually exclusive")
for flag in ("--backend", "--input_list", "--model", "--retrieve_context", "--config_file"):
    if flag in opts and not Path(opts[flag]).is_file():
        fail(f"ERROR: {flag} {opts[flag]} does not exist")
for entry in Path(opts["--input_list"]).read_text().split():
    name, _, path = entry.partition(":=")
    if not name or not Path(path).is_file() or Path(path).stat().st_size == 0:
        fail(f"ERROR: bad input list entry {entry}")
if opts.get("--profiling_level") not in ("basic", "detailed"):
    fail("ERROR: profiling_level must be basic or detailed")
if opts.get("--perf_profile", "burst") not in ("low_balanced", "balanced", "default",
        "high_performance", "sustained_high_performance", "burst", "low_power_saver",
        "power_saver", "high_power_saver", "extreme_power_saver", "system_settings"):
    fail("ERROR: invalid perf_profile")
if int(opts["--num_inferences"]) < 1:
    fail("ERROR: num_inferences must be positive")
if "--config_file" in opts:
    json.loads(Path(opts["--config_file"]).read_text())
if os.environ.get("STANDIN_FAIL"):
    fail("ERROR: Could not create context from binary (stand-in failure)")
time.sleep(float(os.environ.get("STANDIN_SLEEP", "0")))
out = Path(opts["--output_dir"])
(out / "Result_0").mkdir(parents=True, exist_ok=True)
(out / "Result_0" / "output.raw").write_bytes(b"\\0" * 16)
(out / "qnn-profiling-data_0.log").write_text(f"stand-in {opts['--profiling_level']}")
"""
)

VIEWER_STANDIN = (
    _COMMON
    + f"""
log_argv()
args = sys.argv[1:]
opts = dict(zip(args[::2], args[1::2]))
if set(opts) - {{"--input_log", "--output"}} or not Path(opts.get("--input_log", "")).is_file():
    fail("ERROR: --input_log <FILE> is required")
if "--output" in opts:
    Path(opts["--output"]).write_bytes(Path({str(VIEWER_CSV)!r}).read_bytes())
else:
    sys.stdout.write(Path({str(VIEWER_TEXT)!r}).read_text())
"""
)

BENCHMARK_STANDIN = (
    _COMMON
    + f"""
log_argv()
known = {{"graph", "num_runs", "min_secs", "max_secs", "warmup_runs", "warmup_min_secs",
         "num_threads", "use_xnnpack", "use_gpu", "gpu_precision_loss_allowed",
         "gpu_backend", "gpu_inference_for_sustained_speed", "max_delegated_partitions",
         "use_nnapi", "nnapi_execution_preference", "nnapi_allow_fp16",
         "nnapi_accelerator_name", "external_delegate_path", "external_delegate_options",
         "enable_op_profiling", "release_dynamic_tensors"}}
flags = {{}}
for arg in sys.argv[1:]:
    key, _, value = arg.removeprefix("--").partition("=")
    flags[key] = value
unconsumed = [k for k in flags if k not in known]
if unconsumed:
    fail("Unconsumed cmdline flags: " + " ".join(unconsumed))
if not Path(flags.get("graph", "")).is_file():
    fail("Failed to load model")
int(flags["num_runs"]); float(flags["max_secs"])
if "external_delegate_path" in flags and not Path(flags["external_delegate_path"]).is_file():
    fail("Failed to load external delegate")
if flags.get("use_nnapi") == "true" and os.environ.get("STANDIN_NNAPI_FAIL"):
    sys.stdout.write(Path({str(MI11_FAILURE)!r}).read_text())
    sys.exit(1)
accelerated = flags.get("use_gpu") == "true" or flags.get("use_nnapi") == "true"
if accelerated:
    sys.stdout.write(Path({str(MI11_SUMMARY)!r}).read_text())
    if flags.get("enable_op_profiling") == "true":
        sys.stdout.write(Path({str(MI11_PROFILE)!r}).read_text())
else:
    text = Path({str(MOBILENET)!r}).read_text()
    if flags.get("enable_op_profiling") != "true":
        text = text.split("Profiling Info for Benchmark Initialization:")[0]
    sys.stdout.write(text)
"""
)


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def write_qnn_sdk(root: Path) -> Path:
    """A QNN SDK layout under ``root``: the stand-in tools and a placeholder backend."""
    executable(root / "bin" / "aarch64-android" / "qnn-net-run", QNN_NET_RUN_STANDIN)
    executable(root / "bin" / "aarch64-android" / "qnn-profile-viewer", VIEWER_STANDIN)
    libs = root / "lib" / "aarch64-android"
    libs.mkdir(parents=True, exist_ok=True)
    (libs / "libQnnHtp.so").write_bytes(b"placeholder: never loaded by the agent")
    return root


# The QNN SDK's host tools for qnn_lib_aarch64_android: they parse the flags the SDK
# documents (an unknown or missing flag fails as with the real tool), write the files
# the real ones write, and append their argv to $STANDIN_LOG.
QNN_ONNX_CONVERTER_STANDIN = """
import argparse, os, sys
from pathlib import Path
parser = argparse.ArgumentParser()
parser.add_argument("--input_network", required=True)
parser.add_argument("--output_path", required=True)
args = parser.parse_args()
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(" ".join(["qnn-onnx-converter", *sys.argv[1:]]) + "\\n")
assert Path(args.input_network).is_file(), args.input_network
out = Path(args.output_path)
out.write_text("// QNN graph (stand-in)\\n")
out.with_suffix(".bin").write_bytes(b"weights")
"""
QNN_MODEL_LIB_GENERATOR_STANDIN = """
import argparse, os, shutil, sys
from pathlib import Path
parser = argparse.ArgumentParser()
parser.add_argument("-c", required=True)
parser.add_argument("-b", required=True)
parser.add_argument("-o", required=True)
parser.add_argument("-t", required=True)
args = parser.parse_args()
ndk = "yes" if shutil.which("ndk-build") else "no"
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(" ".join(["qnn-model-lib-generator", *sys.argv[1:], f"ndk-build={ndk}"]) + "\\n")
if ndk == "no":
    sys.exit("ndk-build not found")
out = Path(args.o) / args.t
out.mkdir(parents=True, exist_ok=True)
(out / f"lib{Path(args.c).stem}.so").write_bytes(b"\\x7fELF stand-in")
"""


def write_qnn_host_tools(root: Path) -> Path:
    """The QNN SDK's x86_64 host tools (converter, model library generator) under ``root``."""
    host = root / "bin" / "x86_64-linux-clang"
    executable(host / "qnn-onnx-converter", QNN_ONNX_CONVERTER_STANDIN)
    executable(host / "qnn-model-lib-generator", QNN_MODEL_LIB_GENERATOR_STANDIN)
    return root


def write_android_ndk(root: Path) -> Path:
    """An Android NDK folder with an ``ndk-build`` (the generator only looks it up)."""
    executable(root / "ndk-build", "raise SystemExit(0)\n")
    return root
