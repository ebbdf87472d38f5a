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
.venv/bin/python -m pip install --quiet -e ".[dev]"

# adb: only needed to reach phones / the stand-in device; installed when we can.
if ! command -v adb >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq adb >/dev/null
  else
    echo "note: 'adb' not found; install Debian's adb package to use phones (tests marked adb skip)" >&2
  fi
fi
echo "devicelab is set up: .venv/bin/devicelab"
