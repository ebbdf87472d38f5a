"""Compile jobs, run locally on the host: an ONNX or PyTorch model -> ONNX (static,
renamed, quantized), a QNN context binary for one Snapdragon SoC, TFLite, or a QNN
model library.

What each target does here:

* ``onnx``: input shapes made static from ``input_specs``, ``--output_names`` applied,
  optionally quantized; checked with ``onnx.checker`` and saved as one ``.onnx``.
* ``qnn_context_binary``: the same preparation, then ONNX Runtime's EP-context generation
  with the QNN EP (HTP backend) for the device's ``soc_model``; the ``.bin`` must hold
  the whole graph. fp32 models run in fp16, which needs an HTP with fp16.
* ``tflite``: PyTorch sources with litert-torch, ONNX with onnx2tf (``_tflite`` says why
  these two); ``qnn_lib_aarch64_android``: with the QNN SDK's converter and the Android
  NDK where ``QNN_SDK_ROOT`` provides them. ``check_request`` refuses at submit what
  this host lacks, naming it.

Sources: ONNX, and PyTorch (TorchScript ``.pt``, ``torch.export`` ``.pt2``; exported to
ONNX with ``torch.onnx.export``; the optional ``devicelab[torch]`` extra).

``--quantize_full_type`` (int8, int16, w8a16, w4a8, w4a16) quantizes to QDQ with ONNX
Runtime's tools; ``--quantize_io`` keeps the I/O quantized.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from controller.compile import compile_model
    >>> from controller.devices.profiles import load_profiles
    >>> from controller.options import parse_options
    >>> from controller.samples.onnx_models import write_tiny_cnn_onnx
    >>> work = Path(tempfile.mkdtemp())
    >>> model = write_tiny_cnn_onnx(work / "src" / "tiny.onnx")
    >>> gen2 = next(p for p in load_profiles() if p.part_number == "SM8550")
    >>> opts = parse_options("--target_runtime qnn_context_binary --quantize_full_type int8",
    ...                      job="compile", target_runtime="tflite")
    >>> result = compile_model(model, opts, device_profile=gen2, input_specs=None,
    ...                        calibration_data=None, workdir=work / "out")
    >>> result.path.name, result.details["qnn"]["embedded_config"]["soc_type"]
    ('tiny.bin', 'SM8550')
"""

from __future__ import annotations

from controller.compile._compile import CalibrationData, CompileResult, compile_model
from controller.compile._model import SourceModel
from controller.compile._quantize import SCHEMES as QUANTIZE_SCHEMES
from controller.compile._quantize import QuantScheme
from controller.compile._shapes import InputSpecs
from controller.compile._source import check_request
from controller.compile._torch import TORCH_SUFFIXES, upload_file

__all__ = [
    "CalibrationData",
    "CompileResult",
    "InputSpecs",
    "QUANTIZE_SCHEMES",
    "QuantScheme",
    "SourceModel",
    "TORCH_SUFFIXES",
    "check_request",
    "compile_model",
    "upload_file",
]
