"""The phone's NPU and GPU through the vendor's own command-line tools.

On a stock Android phone the agent's glibc Python cannot load bionic vendor
libraries (QNN's ``aarch64-android`` backends, the GPU delegate); the vendor's
executables can. This package runs them as subprocesses and turns their output
into the agent's events:

* ``qnn_net_run`` + ``qnn_profile_viewer``: QNN model libraries (``.so``) and
  context binaries (``.bin``) with the SDK's ``qnn-net-run``;
* ``benchmark_model`` + ``benchmark_flags``: ``.tflite`` with a user-provided
  TensorFlow Lite ``benchmark_model`` and its delegates;
* ``jobs``: ``vendor_tool_for`` (when this path applies) and
  ``vendor_profile_job`` (the event stream).

Not run on hardware by devicelab's tests: they drive stand-in executables that
check their command line and print real output samples.
"""

from __future__ import annotations

from agent.runtimes.vendor.benchmark_model import BENCHMARK_MODEL
from agent.runtimes.vendor.jobs import vendor_profile_job, vendor_tool_for
from agent.runtimes.vendor.qnn_net_run import QNN_NET_RUN

__all__ = ["BENCHMARK_MODEL", "QNN_NET_RUN", "vendor_profile_job", "vendor_tool_for"]
