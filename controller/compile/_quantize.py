"""``--quantize_full_type``: QDQ quantization with ONNX Runtime's quantization tools.

The model is first put through ORT's QNN pre-processing (fusions QNN runs as one op,
e.g. Gelu), then quantized with ``quantize_static`` in QDQ format using the settings
``get_qnn_qdq_config`` derives for QNN (per-tensor overrides that keep ops valid on the
HTP; ``com.microsoft`` Q/DQ ops where the opset predates 16-bit and 4-bit types).

Activations are unsigned and asymmetric (uint8 / uint16: what QNN's HTP runs
natively); weights are signed, symmetric and per output channel (int8 / int16 /
int4), which the HTP requires for per-channel weights.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from controller.compile._shapes import dims, model_inputs, numpy_dtype
from controller.errors import UserError

#: Random calibration: enough batches for min/max to settle, few enough to stay quick.
RANDOM_CALIBRATION_SAMPLES = 8
_SEED = 20240607
RANDOM_CALIBRATION_NOTE = (
    "calibrated on random data (no calibration dataset given): the model is a proxy for "
    "performance numbers only; its outputs are not accurate"
)


@dataclass(frozen=True)
class QuantScheme:
    """One ``--quantize_full_type``: ORT ``QuantType`` member names for both tensor kinds."""

    name: str
    activations: str  # QuantType member, e.g. "QUInt16"
    weights: str  # e.g. "QInt4"

    @property
    def activation_dtype(self) -> str:
        """numpy name of the activation type, which is also the type of quantized I/O."""
        return self.activations.removeprefix("Q").lower()


SCHEMES: dict[str, QuantScheme] = {
    s.name: s
    for s in (
        QuantScheme("int8", "QUInt8", "QInt8"),
        QuantScheme("int16", "QUInt16", "QInt16"),
        QuantScheme("w8a16", "QUInt16", "QInt8"),
        QuantScheme("w4a8", "QUInt8", "QInt4"),
        QuantScheme("w4a16", "QUInt16", "QInt4"),
    )
}


def _ort_quantization() -> Any:
    try:
        import onnxruntime.quantization as quantization
    except ImportError as exc:
        # Quantization runs in this environment (controller/compile/_runtime.py says why).
        raise UserError(
            f"quantization uses ONNX Runtime's quantizer in this Python environment, which has "
            f"none ({exc}): pip install 'devicelab[agent]'"
        ) from exc
    return quantization


def quant_type(quantization: Any, scheme: QuantScheme, member: str) -> Any:
    """``quantization.QuantType.<member>``; a UserError naming the scheme when this
    onnxruntime lacks it."""
    found = getattr(quantization.QuantType, member, None)
    if found is None:
        import onnxruntime

        raise UserError(
            f"--quantize_full_type {scheme.name} needs QuantType.{member} in "
            f"onnxruntime.quantization, which onnxruntime {onnxruntime.__version__} lacks"
        )
    return found


class _Feeds:
    """A ``CalibrationDataReader`` over prepared feeds (duck-typed: ORT checks ``get_next``)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = feeds
        self._next = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= len(self._feeds):
            return None
        self._next += 1
        return self._feeds[self._next - 1]

    def rewind(self) -> None:
        self._next = 0


def random_feeds(
    model: onnx.ModelProto, count: int = RANDOM_CALIBRATION_SAMPLES
) -> list[dict[str, np.ndarray]]:
    """Seeded random inputs in the model's shapes: floats in [0, 1), integers 0 or 1.

    Integers stay at 0/1 so that index inputs (token ids, gather indices) stay valid.

    Raises:
        UserError: an input with a dynamic dim (random data needs a shape).

    Example:
        >>> from controller.samples.onnx_models import build_tiny_cnn
        >>> feeds = random_feeds(build_tiny_cnn(), count=2)
        >>> len(feeds), feeds[0]["image"].shape, feeds[0]["image"].dtype
        (2, (1, 3, 32, 32), dtype('float32'))
    """
    rng = np.random.default_rng(_SEED)
    specs = [
        (vi.name, _static_shape(vi), np.dtype(numpy_dtype(vi))) for vi in model_inputs(model.graph)
    ]
    return [
        {name: _random(rng, shape, dtype) for name, shape, dtype in specs} for _ in range(count)
    ]


def _static_shape(value: onnx.ValueInfoProto) -> tuple[int, ...]:
    shape = dims(value)
    if not all(isinstance(d, int) and d > 0 for d in shape):
        raise UserError(
            f"input {value.name!r} has dynamic dims {shape}: random calibration data needs "
            "static shapes; give input_specs or a calibration dataset"
        )
    return tuple(int(d) for d in shape if isinstance(d, int))


def _random(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "f":
        return rng.random(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(0, 2, shape).astype(dtype)


def dataset_feeds(
    model: onnx.ModelProto, data: Mapping[str, Sequence[np.ndarray]], channel_last: Sequence[str]
) -> list[dict[str, np.ndarray]]:
    """The calibration dataset as feeds for the model being quantized.

    The dataset is in the source model's layout: inputs made channel-last are
    transposed here (NCHW -> NHWC) to match the model being calibrated.

    Raises:
        UserError: naming a missing or extra input, unequal sample counts, or a sample
            whose shape or dtype does not fit the input.
    """
    inputs = {vi.name: vi for vi in model_inputs(model.graph)}
    _check_dataset_names(data, inputs)
    counts = {name: len(samples) for name, samples in data.items()}
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise UserError(
            "calibration data: every input needs the same, non-zero number of samples; "
            f"got {counts}"
        )
    count = next(iter(counts.values()))
    return [
        {name: _sample(inputs[name], data[name][i], i, name in channel_last) for name in inputs}
        for i in range(count)
    ]


def _check_dataset_names(data: Mapping[str, object], inputs: Mapping[str, object]) -> None:
    known = ", ".join(inputs)
    extra = [name for name in data if name not in inputs]
    missing = [name for name in inputs if name not in data]
    if extra or missing:
        raise UserError(
            f"calibration data: missing inputs {missing}, unknown inputs {extra} "
            f"(model inputs: {known})"
        )


def _sample(
    value: onnx.ValueInfoProto, raw: np.ndarray, index: int, channel_last: bool
) -> np.ndarray:
    where = f"calibration data[{value.name!r}][{index}]"
    array = np.asarray(raw)
    if channel_last and array.ndim >= 3:
        array = np.moveaxis(array, 1, -1)
    dtype = np.dtype(numpy_dtype(value))
    if not np.can_cast(array.dtype, dtype, "same_kind"):
        raise UserError(f"{where}: dtype {array.dtype} does not fit the input's {dtype}")
    shape = dims(value)
    fits = len(shape) == array.ndim and all(
        not isinstance(d, int) or d <= 0 or d == n for d, n in zip(shape, array.shape, strict=True)
    )
    if not fits:
        raise UserError(f"{where}: shape {array.shape} does not fit the input's {shape}")
    return np.ascontiguousarray(array, dtype=dtype)


def quantize(
    source: Path, target: Path, scheme: QuantScheme, feeds: list[dict[str, np.ndarray]]
) -> dict[str, Any]:
    """Quantize the float model at ``source`` into ``target`` (QDQ); return what was done.

    Raises:
        UserError: the scheme needs a quantization type this onnxruntime lacks, or ORT's
            quantizer rejects the model (its message is kept).
    """
    quantization = _ort_quantization()
    from onnxruntime.quantization.execution_providers.qnn import (
        get_qnn_qdq_config,
        qnn_preprocess_model,
    )

    activations = quant_type(quantization, scheme, scheme.activations)
    weights = quant_type(quantization, scheme, scheme.weights)
    prepared = target.with_name(target.stem + ".preprocessed.onnx")
    with _quiet_ort_quantizer():
        model = str(prepared) if qnn_preprocess_model(str(source), str(prepared)) else str(source)
        config = get_qnn_qdq_config(
            model, _Feeds(feeds), activation_type=activations, weight_type=weights, per_channel=True
        )
        # "Full" quantization: data-movement ops (Transpose, Reshape, MaxPool) fed straight
        # from a float graph input are quantized too, instead of being left in float.
        config.extra_options["ForceQuantizeNoInputCheck"] = True
        try:
            quantization.quantize(model, str(target), config)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise UserError(
                f"--quantize_full_type {scheme.name}: ONNX Runtime's quantizer failed: {exc}"
            ) from exc
    return _settings(scheme, config)


def _settings(scheme: QuantScheme, config: Any) -> dict[str, Any]:
    import onnxruntime

    return {
        "onnxruntime": onnxruntime.__version__,  # this environment's: it may not be the agent's
        "type": scheme.name,
        "format": "QDQ",
        "activations": scheme.activation_dtype,
        "weights": scheme.weights.removeprefix("Q").lower(),
        "per_channel": bool(config.per_channel),
        "calibrate_method": str(config.calibrate_method.name),
        "qdq_contrib_ops": bool(config.extra_options.get("UseQDQContribOps", False)),
    }


class _DropPreprocessAdvice(logging.Filter):
    # ORT's quantizer advises running quant_pre_process on every call; the QNN
    # pre-processing above is the one that applies here, so the advice is noise.
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextmanager
def _quiet_ort_quantizer() -> Iterator[None]:
    root = logging.getLogger()
    drop = _DropPreprocessAdvice()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
