"""The one interface every runtime (LiteRT, ONNX Runtime, ...) implements.

The profiling loop in ``agent/session.py`` only talks to these types. A runtime
module turns a model file plus a ``RunConfig`` into a ``LoadedModel`` whose
``run()`` is the hot path, and separately produces per-layer timings from the
runtime's own profiler (profiling is not free, so latency and per-layer timings
come from different iterations: LiteRT's op profiler alone changes run times
by up to 30 %, ``agent/session.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from agent.sub_options import SubOptions, parse_qnn_options, parse_tflite_options
from contract.formats import format_of_suffix
from contract.layers import LayerTiming
from contract.tensors import TensorInfo

#: The ``--compute_unit`` values a job may send, lower case ("all": NPU, then GPU, then CPU).
COMPUTE_UNIT_CHOICES = ("all", "npu", "gpu", "cpu")


@dataclass(frozen=True)
class ProfiledIteration:
    """The layers of one profiled run and that run's own wall time.

    ``wall_time_us`` lets the controller check that the layers account for the
    run (their sum cannot exceed it) and show what profiling itself costs.
    """

    layers: list[LayerTiming]
    wall_time_us: float


@dataclass
class RunConfig:
    """What the agent applies for one job, already validated by the controller.

    Sub-option values arrive as canonical strings (``"true"``, ``"4"``,
    ``"kHtpBurst"``) and are checked and typed once, when the config is made
    (``tflite`` and ``qnn``, ``agent/sub_options.py``): a bad one raises
    ``InvalidOptionError`` there, before any library is loaded. Each runtime maps
    the typed values to its own keys and rejects what it cannot apply.
    """

    workdir: Path  # scratch space for profiler output files
    # The model's format (contract/formats.py); "" derives it from the file's suffix.
    model_type: str = ""
    compute_units: tuple[str, ...] = ("all",)  # lower-case: all, npu, gpu, cpu
    tflite_delegates: tuple[str, ...] = ()
    tflite_options: dict[str, str] = field(default_factory=dict)
    qnn_options: dict[str, str] = field(default_factory=dict)
    onnx_execution_providers: tuple[str, ...] = ()
    # Concrete shapes for inputs; needed to make dynamic dims static before QNN.
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Device facts from device_profiles/ (the controller sends them; the agent holds none).
    soc_model: str = ""  # QNN soc_model id, e.g. "43" for SM8550
    htp_arch: str = ""  # e.g. "73"
    htp_fp16: str = ""  # "true" / "false"; "" when the controller did not say
    vtcm_mb: str = ""  # sent for the HTP simulator only: a real HTP knows its VTCM
    # Extra directories searched for delegate / backend libraries (libQnnTFLiteDelegate.so, ...).
    library_dirs: tuple[str, ...] = ()
    dequantize_outputs: bool = True
    # (scale, zero_point) of quantized outputs, read on the host from the model file: used
    # where the runtime does not know them (a QDQ ONNX model's last QuantizeLinear).
    output_quantization: dict[str, tuple[float, int]] = field(default_factory=dict)
    # tflite_options / qnn_options, typed (read them as .tflite / .qnn). Init fields, so
    # that dataclasses.replace() hands them on instead of parsing the text again.
    _tflite: SubOptions = field(default_factory=SubOptions, repr=False, compare=False)
    _qnn: SubOptions = field(default_factory=SubOptions, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Checked here, where the job's options enter the agent: a bad value fails the
        # job before any library is loaded.
        _ = self.tflite, self.qnn

    @property
    def tflite(self) -> SubOptions:
        """``tflite_options``, typed; parsed once, and again only if their text changes."""
        if self._tflite.texts != self.tflite_options:
            self._tflite = parse_tflite_options(self.tflite_options)
        return self._tflite

    @property
    def qnn(self) -> SubOptions:
        """``qnn_options``, typed; parsed once, and again only if their text changes."""
        if self._qnn.texts != self.qnn_options:
            self._qnn = parse_qnn_options(self.qnn_options)
        return self._qnn

    def model_type_of(self, model_path: Path) -> str:
        """The model's type: ``model_type`` when the job named it, else its file suffix's."""
        if self.model_type:
            return self.model_type
        fmt = format_of_suffix(model_path.suffix)
        return fmt.model_type if fmt else ""


@dataclass
class AppliedConfig:
    """What actually ran: recorded in the job result next to what was requested."""

    runtime: str  # "litert", "tflite_runtime", "onnxruntime"
    runtime_version: str
    accelerators: list[str] = field(default_factory=list)  # delegates / EPs in use, in order
    # e.g. "qnn: libQnnTFLiteDelegate.so not found"
    fallbacks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # e.g. {"num_threads": "2"}


@dataclass(frozen=True)
class RuntimeInfo:
    name: str
    version: str
    available: bool
    # e.g. ("xnnpack",) or ("CPUExecutionProvider", "QNNExecutionProvider")
    accelerators: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()  # QNN backends found, e.g. ("htp",)
    detail: str = ""  # why not available


class LoadedModel(Protocol):
    applied: AppliedConfig
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    def set_inputs(self, feeds: dict[str, np.ndarray]) -> None:
        """Bind input values for the following ``run()`` calls."""

    def run(self) -> None:
        """One inference on the bound inputs. The hot path: nothing else."""

    def get_outputs(self) -> dict[str, np.ndarray]:
        """Outputs of the last ``run()``."""

    def output_quantization(self) -> dict[str, tuple[float, int]]:
        """(scale, zero_point) of each quantized output; {} when none or unknown."""

    def close(self) -> None: ...


class Runtime(Protocol):
    name: str
    #: the model types (contract/formats.py) this runtime loads, e.g. ("tflite",)
    model_types: tuple[str, ...]

    def info(self) -> RuntimeInfo: ...

    def prepare(self) -> None:
        """Import the runtime's module and native library, nothing more.

        A job's process calls it before the first load (possibly long before,
        when started ahead: ``agent/standby.py``), so the first load times the
        model's load, not Python's import. It must create no session,
        interpreter or environment and read no model: that is the first load's.
        Raises RuntimeUnavailableError when the runtime is not installed.
        """

    def load(self, model_path: Path, config: RunConfig) -> LoadedModel:
        """Load and prepare a model; raise InvalidModelError / MissingLibraryError / ..."""

    def profile_layers(
        self,
        model_path: Path,
        config: RunConfig,
        feeds: dict[str, np.ndarray],
        iterations: int,
    ) -> list[ProfiledIteration]:
        """Run ``iterations`` profiled inferences; one entry per iteration.

        Uses its own profiled load so the timed loop never pays for profiling.
        """
