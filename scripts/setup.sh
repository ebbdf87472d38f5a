#!/usr/bin/env bash
# One-command set-up of a development / lab host: a venv with devicelab and
# everything it needs, plus Debian's adb (a real ADB server) for the ADB path.
# Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch + litert-torch: PyTorch sources and PyTorch -> TFLite compiles, tested in CI.
# Measured here: torch 2.13.0 (CPU build, from this machine's disk) ~800 MB and 20-40 s,
# litert-torch ~1,100 MB and 35-50 s more (a fresh venv: 795 MB -> 2,661 MB, +78 s).
# DEVICELAB_SETUP_EXTRAS=dev skips both (their tests then skip, saying why).
.venv/bin/python -m pip install --quiet -e ".[${DEVICELAB_SETUP_EXTRAS:-dev,torch,tflite-convert}]"
# Change points of `devicelab regress history` (otava.analysis needs only numpy and scipy;
# the package's own pins would downgrade numpy: see pyproject.toml).
.venv/bin/python -m pip install --quiet --no-deps "apache-otava==0.8.0"

# onnx2tf (ONNX -> TFLite) pins numpy 1.26, protobuf 4 and TensorFlow 2.19 exactly,
# which cannot share .venv: it gets a venv of its own, linked beside .venv's python
# where controller/compile/_tflite.py looks for it. Measured here: 2.6 GB, ~60 s.
# Skipped with DEVICELAB_SETUP_EXTRAS=dev; a failed install only warns (its test skips).
if [ -z "${DEVICELAB_SETUP_EXTRAS:-}" ] && [ ! -x .venv/bin/onnx2tf ]; then
  { [ -x .venv-onnx2tf/bin/python ] || "$PYTHON" -m venv .venv-onnx2tf; } \
    && .venv-onnx2tf/bin/python -m pip install --quiet "onnx2tf==1.29.24" \
    && ln -sf "$PWD/.venv-onnx2tf/bin/onnx2tf" .venv/bin/onnx2tf \
    || echo "WARNING: could not install onnx2tf; ONNX -> TFLite compiles and their test are off" >&2
fi

# .venv-zoo: Qualcomm's qai-hub-models 0.65.0 beside devicelab, as a zoo user has them
# (tests/test_zoo_export.py runs its export CLI against devicelab). Its own pins stay
# (onnxruntime 1.22.1, protobuf 6.31.1, ai-edge-litert 2.1.1), except torch: <= 2.11
# would be a CUDA build of several GB from PyPI, so the CPU 2.13.0 on disk stands in.
# Measured here: 2.1 GB; 90 s to 5.5 min wall clock (80 s of CPU). Skipped with
# DEVICELAB_SETUP_EXTRAS=dev (the test then skips, saying so).
# qai-hub-models' requirements but torch and torchvision, read from its own metadata.
ZOO_REQUIREMENTS='import re; from importlib.metadata import requires
for r in requires("qai-hub-models"):
    if "extra ==" not in r and re.split(r"[<>=!~;\[ ]", r)[0].lower() not in ("torch", "torchvision"):
        print(r)'
if [ -z "${DEVICELAB_SETUP_EXTRAS:-}" ] && [ ! -x .venv-zoo/bin/qai-hub-models ]; then
  { [ -x .venv-zoo/bin/python ] || "$PYTHON" -m venv .venv-zoo; } \
    && .venv-zoo/bin/python -m pip install --quiet "torch==2.13.0" \
    && .venv-zoo/bin/python -m pip install --quiet --no-deps "qai-hub-models==0.65.0" \
    && .venv-zoo/bin/python -c "$ZOO_REQUIREMENTS" > .venv-zoo/requirements.txt \
    && .venv-zoo/bin/python -m pip install --quiet -r .venv-zoo/requirements.txt -e . \
    || echo "WARNING: could not build .venv-zoo; tests/test_zoo_export.py will skip" >&2
elif [ -z "${DEVICELAB_SETUP_EXTRAS:-}" ]; then  # devicelab's requirements may have changed
  .venv-zoo/bin/python -m pip install --quiet -e . \
    || echo "WARNING: could not update devicelab in .venv-zoo" >&2
fi

# adb reaches phones and the stand-in device; chromium renders the HTML report in
# its test; postgresql's server binaries run the store's PostgreSQL tests (each
# session starts a throwaway cluster of its own, tests/postgres_server.py).
# Installed from Debian when we can (root); otherwise those tests skip.
missing=()
command -v adb >/dev/null 2>&1 || missing+=(adb)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } \
      || echo "WARNING: could not install ${missing[*]}; the tests that need them will skip" >&2
  else
    echo "note: not installed: ${missing[*]} (Debian packages); the tests that need them skip" >&2
  fi
fi
echo "devicelab is set up: .venv/bin/devicelab"
