"""Running a QNN model library (``.so``) or context binary (``.bin``) through ``qnn-net-run``.

On a stock Android phone the agent runs inside a glibc CPython bundle and cannot
``dlopen`` QNN's bionic ``aarch64-android`` libraries; the SDK's own
``qnn-net-run`` (a bionic executable) can. So the agent writes the inputs as raw
files, runs the tool as a subprocess with ``--profiling_level``, and reads the
profile back through ``qnn-profile-viewer`` (``qnn_profile_viewer.py``).

Where things are looked for, in order:
* tools: the job's library dirs, ``$QNN_SDK_ROOT/bin/<target>``, ``PATH``;
* backend libraries (``libQnnHtp.so``, ...): the job's library dirs,
  ``$QNN_SDK_ROOT/lib/<target>`` (``agent/runtimes/libraries.py``, ``Policy.QNN_SDK``);
* the HTP skeleton for the DSP (``ADSP_LIBRARY_PATH``):
  ``$QNN_SDK_ROOT/lib/hexagon-v<htp_arch>/unsigned`` when the arch is known.

Implemented against the SDK's documented command lines and output; not run on
hardware by devicelab's tests (they use stand-in executables).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.errors import AgentError, InvalidOptionError, MissingLibraryError
from agent.inputs import make_feeds
from agent.runtimes.base import RunConfig
from agent.runtimes.libraries import SDK_ENV, SDK_TARGETS, Policy, find_in, sdk_root, search_dirs
from agent.runtimes.qnn_profile_csv import QnnExecution
from agent.runtimes.vendor._process import ToolRun, run_tool, tool_env
from agent.runtimes.vendor.qnn_options import NetRunPlan, graph_configs_for
from agent.runtimes.vendor.qnn_profile_viewer import (
    VIEWER,
    ViewerSummary,
    parse_viewer_csv,
    parse_viewer_text,
)
from contract.tensors import TensorInfo

QNN_NET_RUN = "qnn-net-run"
HTP_EXTENSIONS = "libQnnHtpNetRunExtensions.so"


@dataclass(frozen=True)
class QnnBackendLib:
    """A QNN backend qnn-net-run can load with ``--backend``."""

    key: str  # "htp", "gpu", "cpu"
    library: str
    compute_unit: str  # what per-layer rows report


HTP = QnnBackendLib("htp", "libQnnHtp.so", "NPU")
GPU = QnnBackendLib("gpu", "libQnnGpu.so", "GPU")
CPU = QnnBackendLib("cpu", "libQnnCpu.so", "CPU")
_UNIT_BACKENDS = {"npu": HTP, "gpu": GPU, "cpu": CPU}


@dataclass(frozen=True)
class QnnTools:
    """Where qnn-net-run, qnn-profile-viewer and the backend libraries were found."""

    net_run: Path
    viewer: Path
    lib_dirs: tuple[Path, ...]
    sdk_root: Path | None = None

    def library(self, name: str) -> Path | None:
        """The first ``lib_dirs/name`` that exists, or None."""
        return find_in(name, self.lib_dirs)


def tool_dirs(library_dirs: Sequence[str]) -> list[Path]:
    """Directories searched for the QNN executables, in order, without repeats."""
    root = sdk_root()
    sdk = [root / "bin" / target for target in SDK_TARGETS] if root else []
    path = [Path(d) for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    return list(dict.fromkeys([*(Path(d) for d in library_dirs), *sdk, *path]))


def _find_executable(name: str, dirs: list[Path]) -> Path | None:
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_qnn_tools(library_dirs: Sequence[str]) -> QnnTools | None:
    """qnn-net-run and qnn-profile-viewer when both are present; None otherwise."""
    dirs = tool_dirs(library_dirs)
    net_run, viewer = _find_executable(QNN_NET_RUN, dirs), _find_executable(VIEWER, dirs)
    if net_run is None or viewer is None:
        return None
    lib_dirs = tuple(search_dirs(library_dirs, Policy.QNN_SDK))
    return QnnTools(net_run, viewer, lib_dirs, sdk_root())


def require_qnn_tools(library_dirs: Sequence[str]) -> QnnTools:
    """Like ``find_qnn_tools``, but say exactly what is missing and where it was looked for.

    Raises:
        MissingLibraryError: qnn-net-run or qnn-profile-viewer is not on the device.
    """
    tools = find_qnn_tools(library_dirs)
    if tools is not None:
        return tools
    dirs = tool_dirs(library_dirs)
    missing = [n for n in (QNN_NET_RUN, VIEWER) if _find_executable(n, dirs) is None]
    searched = ", ".join(str(d) for d in dirs) or "nowhere"
    raise MissingLibraryError(
        f"{' and '.join(missing)} not found: set {SDK_ENV} on the device to the QNN SDK "
        f"(bin/aarch64-android/{QNN_NET_RUN}, bin/aarch64-android/{VIEWER}, "
        f"lib/aarch64-android/{HTP.library}) or put them in the job's library dirs "
        f"(searched: {searched})"
    )


def requested_backends(config: RunConfig) -> list[QnnBackendLib]:
    """QNN backends to try, NPU then GPU then CPU, from ``--compute_unit``.

    Raises:
        InvalidOptionError: An unknown compute unit.
    """
    units = {unit.lower() for unit in config.compute_units} or {"all"}
    unknown = sorted(units - {"all", *_UNIT_BACKENDS})
    if unknown:
        raise InvalidOptionError(f"compute_unit: unknown {unknown} for {QNN_NET_RUN}")
    return [b for unit, b in _UNIT_BACKENDS.items() if unit in units or "all" in units]


def input_specs(
    model_path: Path, config: RunConfig, enable_graphs: Sequence[str], context_binary: bool
) -> list[TensorInfo]:
    """The inputs to feed, as float32 (qnn-net-run quantizes float inputs itself).

    A context binary declares its inputs; they are read with ``libQnnSystem.so`` when
    the agent's process can load it (not on a phone: that library is bionic there).
    Otherwise, and always for a model library, the job's input specs give them.

    Raises:
        InvalidOptionError: No way to know the inputs' names and shapes.
    """
    if context_binary:
        specs = _context_binary_inputs(model_path, config, enable_graphs)
        if specs:
            return specs
    if config.input_shapes:
        return [TensorInfo(name, tuple(s), "float32") for name, s in config.input_shapes.items()]
    raise InvalidOptionError(
        f"{model_path.name}: {QNN_NET_RUN} needs each input's name and shape and this device "
        "cannot read them from the model; give them in the job's input specs"
    )


def _context_binary_inputs(
    model_path: Path, config: RunConfig, enable_graphs: Sequence[str]
) -> list[TensorInfo]:
    from agent.runtimes import qnn_context  # ctypes + libQnnSystem: only when needed

    try:
        info = qnn_context.read_context_binary(model_path, config.library_dirs)
    except (AgentError, OSError):
        return []
    graph = qnn_context.select_graph(info, enable_graphs, model_path)
    return [TensorInfo(t.name, t.shape, "float32") for t in graph.inputs]


def write_input_list(specs: list[TensorInfo], workdir: Path, config: RunConfig) -> Path:
    """Write one set of seeded random inputs as raw float32 files and the input list.

    One line, ``name:=path`` per input (qnn-net-run's documented format);
    ``--num_inferences`` loops over it.
    """
    feeds = make_feeds(specs, config.input_shapes)
    raw_dir = workdir / "inputs"
    raw_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, spec in enumerate(specs):
        path = raw_dir / f"{index}_{re.sub(r'[^A-Za-z0-9_.-]', '_', spec.name)}.raw"
        np.ascontiguousarray(feeds[spec.name], dtype=np.float32).tofile(path)
        entries.append(f"{spec.name}:={path}")
    input_list = workdir / "input_list.txt"
    input_list.write_text(" ".join(entries) + "\n")
    return input_list


def write_config_file(
    plan: NetRunPlan, tools: QnnTools, config: RunConfig, workdir: Path
) -> tuple[Path | None, list[str]]:
    """The ``--config_file`` JSON for ``plan`` (None when nothing needs it) and warnings."""
    graph_configs, warnings = graph_configs_for(plan)
    document: dict[str, object] = {}
    if plan.context_configs:
        document["context_configs"] = plan.context_configs
    if graph_configs:
        document["graph_configs"] = graph_configs
    extension = tools.library(HTP_EXTENSIONS)
    if plan.htp_graph and extension is None:
        keys = ", ".join(sorted(plan.htp_graph))
        warnings.append(f"HTP graph options ({keys}) not applied: {HTP_EXTENSIONS} not found")
    elif plan.htp_graph and extension is not None:
        document["backend_extensions"] = {
            "shared_library_path": str(extension),
            "config_file_path": str(_write_htp_config(plan, config, workdir)),
        }
    if not document:
        return None, warnings
    path = workdir / "net_run_config.json"
    path.write_text(json.dumps(document, indent=2))
    return path, warnings


def _write_htp_config(plan: NetRunPlan, config: RunConfig, workdir: Path) -> Path:
    graph: dict[str, object] = dict(plan.htp_graph)
    if plan.enable_graphs:
        graph["graph_names"] = plan.enable_graphs
    document: dict[str, object] = {"graphs": [graph]}
    device: dict[str, object] = {}
    if config.soc_model.isdigit():
        device["soc_model"] = int(config.soc_model)
    if config.htp_arch:
        device["dsp_arch"] = f"v{config.htp_arch}"
    if device:
        document["devices"] = [device]
    path = workdir / "htp_backend_extensions.json"
    path.write_text(json.dumps(document, indent=2))
    return path


@dataclass(frozen=True)
class NetRunResult:
    """One qnn-net-run invocation, its profile read back through the viewer."""

    run: ToolRun
    summary: ViewerSummary
    executions: list[QnnExecution]


@dataclass
class NetRun:
    """qnn-net-run set up for one model, one backend and one job's options."""

    tools: QnnTools
    model_path: Path
    backend: QnnBackendLib
    input_list: Path
    config_file: Path | None
    perf_profile: str | None
    library_dirs: tuple[str, ...]
    htp_arch: str = ""
    context_binary: bool = False  # a .bin (--retrieve_context), else a model library

    def argv(self, output_dir: Path, inferences: int, level: str) -> list[str]:
        """The qnn-net-run command line for ``inferences`` runs at profiling ``level``."""
        backend = self.tools.library(self.backend.library)
        if backend is None:
            raise MissingLibraryError(self.missing_backend())
        model_flag = "--retrieve_context" if self.context_binary else "--model"
        argv = [str(self.tools.net_run), "--backend", str(backend)]
        argv += [model_flag, str(self.model_path), "--input_list", str(self.input_list)]
        argv += ["--output_dir", str(output_dir), "--num_inferences", str(inferences)]
        argv += ["--profiling_level", level]
        if self.perf_profile:
            argv += ["--perf_profile", self.perf_profile]
        if self.config_file is not None:
            argv += ["--config_file", str(self.config_file)]
        return argv

    def missing_backend(self) -> str:
        """Why the backend library cannot be used, naming where it was looked for."""
        searched = ", ".join(str(d) for d in self.tools.lib_dirs) or "nowhere"
        return (
            f"{self.backend.library} not found: set {SDK_ENV} on the device to the QNN SDK "
            f"(lib/aarch64-android/{self.backend.library}) or put it in the job's library "
            f"dirs (searched: {searched})"
        )

    def env(self) -> dict[str, str]:
        """The tool's environment: backend libraries on the loader path, DSP skeletons."""
        extra = {}
        if self.tools.sdk_root is not None and self.htp_arch:
            skel = self.tools.sdk_root / "lib" / f"hexagon-v{self.htp_arch}" / "unsigned"
            # The DSP side loads libQnnHtpV<arch>Skel.so from here (';'-separated by design).
            extra["ADSP_LIBRARY_PATH"] = ";".join(
                [str(skel), os.environ.get("ADSP_LIBRARY_PATH", "")]
            )
        return tool_env(self.tools.lib_dirs, extra)

    def run(self, name: str, inferences: int, level: str, timeout_s: float) -> NetRunResult:
        """Run ``inferences`` inferences in a fresh process and read its profile.

        Raises:
            AgentError: The tool failed (message ends with its own output), or wrote
                no profiling log.
        """
        workdir = self.input_list.parent / name
        shutil.rmtree(workdir, ignore_errors=True)
        output_dir = workdir / "output"
        run = run_tool(self.argv(output_dir, inferences, level), timeout_s, workdir, self.env())
        if run.returncode != 0:
            raise AgentError(run.failure(QNN_NET_RUN))
        log = _profiling_log(output_dir)
        text = self._viewer(["--input_log", str(log)], workdir, timeout_s)
        csv_path = workdir / "profile.csv"
        self._viewer(["--input_log", str(log), "--output", str(csv_path)], workdir, timeout_s)
        executions = parse_viewer_csv(csv_path) if csv_path.is_file() else []
        return NetRunResult(run, parse_viewer_text(text), executions)

    def _viewer(self, args: list[str], workdir: Path, timeout_s: float) -> str:
        run = run_tool([str(self.tools.viewer), *args], timeout_s, workdir, self.env())
        if run.returncode != 0:
            raise AgentError(run.failure(VIEWER))
        return run.stdout


def _profiling_log(output_dir: Path) -> Path:
    # qnn-profiling-data_0.log in the SDKs seen; some write qnn-profiling-data.log.
    logs = sorted(output_dir.glob("qnn-profiling-data*.log"))
    if not logs:
        raise AgentError(f"{QNN_NET_RUN} wrote no profiling log in {output_dir}")
    return logs[0]


def tool_version(tools: QnnTools, workdir: Path) -> str:
    """``QNN SDK v2.x...`` as qnn-net-run reports it; "" when it does not say."""
    try:
        run = run_tool([str(tools.net_run), "--version"], 30.0, workdir, tool_env(tools.lib_dirs))
    except AgentError:
        return ""
    match = re.search(r"QNN SDK v?([\w.]+)", run.stdout + run.stderr)
    return match.group(1) if match else ""
