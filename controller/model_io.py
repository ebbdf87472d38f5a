"""A model's inputs and outputs, read on the host, so inference inputs are checked
before any device time is spent.

ONNX: the graph's inputs (minus initializers) via the ``onnx`` package. TFLite:
the flatbuffer's subgraph 0 via LiteRT's generated schema. QNN context
binaries: the QNN System API reader the agent uses. Where a format cannot be
read here, ``None`` is returned and the device's runtime remains the judge.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from contract.formats import format_of_suffix
from contract.tensors import TensorInfo
from controller.errors import UserError

_ONNX_DTYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
}
_TFLITE_DTYPES = {
    0: "float32",
    1: "float16",
    2: "int32",
    3: "uint8",
    4: "int64",
    6: "bool",
    7: "int16",
    9: "int8",
    10: "float64",
    15: "uint32",
    16: "uint16",
}


def _onnx_io(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}
    quantization = _onnx_io_quantization(graph)

    def spec(value: Any) -> TensorInfo:
        tensor = value.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
        scale, zero_point = quantization.get(value.name, (None, None))
        dtype = _ONNX_DTYPES.get(tensor.elem_type, "unknown")
        return TensorInfo(value.name, dims, dtype, scale, zero_point)

    inputs = [spec(v) for v in graph.input if v.name not in initializers]
    return inputs, [spec(v) for v in graph.output]


def _onnx_io_quantization(graph: Any) -> dict[str, tuple[float, float]]:
    """(scale, zero_point) of the tensors a per-tensor DequantizeLinear reads or a
    QuantizeLinear writes: a QDQ model's quantized inputs and outputs among them."""
    from onnx import numpy_helper

    def scalar(name: str) -> float | None:
        for init in graph.initializer:
            if init.name == name:
                try:
                    array = numpy_helper.to_array(init)
                except Exception:  # external data not loaded: no parameters to show
                    return None
                return float(array.reshape(-1)[0]) if array.size == 1 else None
        return None

    found: dict[str, tuple[float, float]] = {}
    for node in graph.node:
        if node.op_type not in ("DequantizeLinear", "QuantizeLinear"):
            continue
        tensor = node.input[0] if node.op_type == "DequantizeLinear" else node.output[0]
        scale = scalar(node.input[1])
        zero_point = scalar(node.input[2]) if len(node.input) > 2 and node.input[2] else 0.0
        if scale is not None and zero_point is not None:
            found[tensor] = (scale, zero_point)
    return found


def _tflite_io(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]] | None:
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        return None
    try:
        graph = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0).subgraphs[0]
    except Exception:  # truncated or damaged: the device's runtime says why, naming the file
        return None

    def spec(index: int) -> TensorInfo:
        tensor = graph.tensors[index]
        signature = tensor.shapeSignature if tensor.shapeSignature is not None else tensor.shape
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        dtype = _TFLITE_DTYPES.get(tensor.type, "unknown")
        params = tensor.quantization
        scales = list(getattr(params, "scale", None) or [])
        zeros = list(getattr(params, "zeroPoint", None) or [])
        per_tensor = len(scales) == 1 and len(zeros) == 1  # per-channel ones are not shown
        scale = float(scales[0]) if per_tensor else None
        zero_point = float(zeros[0]) if per_tensor else None
        return TensorInfo(name, tuple(int(d) for d in signature), dtype, scale, zero_point)

    return [spec(i) for i in graph.inputs], [spec(i) for i in graph.outputs]


def _context_binary_io(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]] | None:
    try:
        from agent.runtimes.qnn_context import read_context_binary
    except ImportError:
        return None
    try:
        info = read_context_binary(path)
    except Exception:  # no libQnnSystem.so on this host: let the device decide
        return None
    graph = info.graphs[0]
    return (
        [_qnn_spec(t) for t in graph.inputs],
        [_qnn_spec(t) for t in graph.outputs],
    )


def _qnn_spec(tensor: Any) -> TensorInfo:
    scale, zero_point = tensor.quantization or (None, None)
    return TensorInfo(
        tensor.name,
        tuple(tensor.shape),
        tensor.dtype,
        scale,
        None if zero_point is None else float(zero_point),
    )


ModelIo = tuple[list[TensorInfo], list[TensorInfo]]

#: The I/O reader of each model type this host can read (types from contract/formats.py);
#: a reader returns None when a tool it needs is missing here.
READERS: dict[str, Callable[[Path], ModelIo | None]] = {
    "onnx": _onnx_io,
    "tflite": _tflite_io,
    "qnn_context_binary": _context_binary_io,
}


def model_io(path: Path, model_type: str | None = None) -> ModelIo | None:
    """(inputs, outputs) of a model file, or None when this host cannot read them.

    Args:
        path: the model file (a stored artifact has no suffix: give its type).
        model_type: its type (``contract/formats.py``); None to take it from the suffix.
    """
    if model_type is None:
        fmt = format_of_suffix(path.suffix)
        model_type = fmt.model_type if fmt else ""
    reader = READERS.get(model_type)
    return reader(path) if reader else None


@functools.lru_cache(maxsize=64)
def stored_model_io(path: Path, model_type: str) -> ModelIo | None:
    """``model_io`` of a stored artifact, read once per process: a stored file is named
    by its sha256 and never changes, reading one parses the whole file (1.3 s and its size
    in memory for a 512 MiB ONNX), and a script submits one model to many devices and
    jobs while a worker runs them (an entry is a few ``TensorInfo``)."""
    return model_io(path, model_type)


def quantize_float_inputs(
    specs: list[TensorInfo], inputs: dict[str, list[np.ndarray]]
) -> tuple[dict[str, list[np.ndarray]], list[str]]:
    """Float samples for a quantized input (an integer input with a per-tensor scale and
    zero point: ``--quantize_io``) quantized as the model's own QuantizeLinear would,
    ``q = clip(round(x / scale) + zero_point)``; every other input as given. Returns
    the inputs and a note per input converted.

    Programs written for the cloud send float samples to a model compiled with quantized
    I/O and compare its (dequantized) outputs with the float model's: qai-hub-models'
    export does (``qai_hub_models/utils/export/pipeline.py``, step 6).
    """
    converted = dict(inputs)
    notes = []
    for spec in specs:
        samples = inputs.get(spec.name)
        if not samples or spec.scale is None or spec.zero_point is None:
            continue
        if spec.dtype == "unknown" or np.dtype(spec.dtype).kind not in "iu":
            continue
        if not all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in samples):
            continue
        limits = np.iinfo(np.dtype(spec.dtype))
        converted[spec.name] = [
            np.clip(np.rint(a / spec.scale) + spec.zero_point, limits.min, limits.max).astype(
                spec.dtype
            )
            for a in samples
        ]
        notes.append(
            f"input '{spec.name}': {samples[0].dtype} samples quantized to {spec.dtype} "
            f"(scale {spec.scale:g}, zero point {spec.zero_point:g})"
        )
    return converted, notes


def check_inference_inputs(specs: list[TensorInfo], inputs: dict[str, list[np.ndarray]]) -> int:
    """Validate names, dtypes and shapes of inference inputs; return the sample count.

    Example:
        check_inference_inputs([TensorInfo("image", (1, 3, 32, 32), "float32")],
                               {"image": [np.zeros((1, 3, 32, 32), np.float32)]})  # -> 1
    """
    expected = {spec.name for spec in specs}
    if set(inputs) != expected:
        raise UserError(
            f"input names {sorted(inputs)} do not match the model's inputs {sorted(expected)}"
        )
    counts = {name: len(samples) for name, samples in inputs.items()}
    if len(set(counts.values())) != 1 or not next(iter(counts.values())):
        raise UserError(f"every input needs the same, non-zero number of samples; got {counts}")
    for spec in specs:
        for index, array in enumerate(inputs[spec.name]):
            _check_array(spec, index, array)
    return next(iter(counts.values()))


def _check_array(spec: TensorInfo, index: int, array: Any) -> None:
    where = f"input '{spec.name}' sample {index}"
    if not isinstance(array, np.ndarray):
        raise UserError(f"{where}: expected a numpy array, got {type(array).__name__}")
    if spec.dtype != "unknown" and array.dtype != np.dtype(spec.dtype):
        raise UserError(f"{where}: dtype {array.dtype} but the model expects {spec.dtype}")
    shape_ok = len(array.shape) == len(spec.shape) and all(
        want in (-1, got) for want, got in zip(spec.shape, array.shape, strict=True)
    )
    if not shape_ok:
        raise UserError(
            f"{where}: shape {list(array.shape)} but the model expects {list(spec.shape)}"
            " (-1 = any)"
        )
