"""``submit_quantize_job`` and ``QuantizeDtype``: the cloud client's quantize jobs, on this host.

    job = hub.submit_quantize_job("model.onnx", {"image": [sample]},
                                  weights_dtype=hub.QuantizeDtype.INT8,
                                  activations_dtype=hub.QuantizeDtype.INT8)
    quantized = job.get_target_model()        # a QDQ ONNX model

A quantize job is a compile job (``--target_runtime onnx --quantize_full_type ...``,
ONNX Runtime's quantization tools, see ``controller.compile._quantize``) marked
``job_type: quantize`` in its spec, so ``get_job`` hands back a ``QuantizeJob``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.errors import UserError
from controller.job_handles import QuantizeJob
from controller.job_status import QuantizeDtype
from controller.managed import Dataset, dataset_entries
from controller.options import OPTIONS_SPEC_KEY, parse_options

if TYPE_CHECKING:
    from controller.lab import Lab

# (weights, activations) -> devicelab's --quantize_full_type.
QUANTIZE_TYPES: dict[tuple[QuantizeDtype, QuantizeDtype], str] = {
    (QuantizeDtype.INT8, QuantizeDtype.INT8): "int8",
    (QuantizeDtype.INT8, QuantizeDtype.INT16): "w8a16",
    (QuantizeDtype.INT4, QuantizeDtype.INT8): "w4a8",
    (QuantizeDtype.INT4, QuantizeDtype.INT16): "w4a16",
    (QuantizeDtype.INT16, QuantizeDtype.INT16): "int16",
}


def quantize_type(weights: QuantizeDtype, activations: QuantizeDtype) -> str:
    """devicelab's ``--quantize_full_type`` for a dtype pair.

    Raises:
        UserError: a pair with no equivalent here, naming the pairs there are.
    """
    found = QUANTIZE_TYPES.get((QuantizeDtype(weights), QuantizeDtype(activations)))
    if found is None:
        allowed = ", ".join(f"{w.name}/{a.name} ({t})" for (w, a), t in QUANTIZE_TYPES.items())
        raise UserError(
            f"weights {QuantizeDtype(weights).name} with activations "
            f"{QuantizeDtype(activations).name} cannot be quantized here; "
            f"weights/activations pairs: {allowed}"
        )
    return found


def _calibration(lab: Lab, data: Dataset | dict[str, Any] | str | Path, model_name: str) -> Dataset:
    """A Dataset, entries, an ``.h5`` path, or (as the client) a dataset id."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str) and not data.lower().endswith(".h5"):
        return lab.get_dataset(data)
    return lab.upload_dataset(dataset_entries(data), name=f"calibration for {model_name}")


def submit_quantize_job(
    lab: Lab,
    model: Any,
    calibration_data: Dataset | dict[str, Any] | str | Path,
    weights_dtype: QuantizeDtype = QuantizeDtype.INT8,
    activations_dtype: QuantizeDtype = QuantizeDtype.INT8,
    name: str | None = None,
    options: str = "",
    project: Any = None,
) -> QuantizeJob:
    """Quantize an ONNX model to QDQ ONNX on this host, calibrated on ``calibration_data``.

    Args:
        lab: the lab whose store and worker take the job.
        model: a ``Model``, an ONNX path or an ``onnx.ModelProto``.
        calibration_data: a ``Dataset``, entries (name -> list of arrays), an ``.h5``
            path, or a dataset id.
        weights_dtype: INT8 or INT4 (or INT16 with INT16 activations).
        activations_dtype: INT8 or INT16.
        name: the job's name (default: the model's).
        options: further compile options (devicelab's table, ``devicelab options``).
        project: accepted and ignored (one store, no projects).

    Raises:
        UserError: not an ONNX model, a dtype pair with no equivalent, a bad option.
    """
    full_type = quantize_type(weights_dtype, activations_dtype)
    model = lab.as_model(model)
    if model.model_type.value != "onnx":
        raise UserError(f"{model.name}: a quantize job needs an ONNX model")
    job_options = f"--target_runtime onnx --quantize_full_type {full_type} {options}".strip()
    parsed = parse_options(job_options, job="compile", target_runtime="onnx")
    dataset = _calibration(lab, calibration_data, model.name)
    spec = {
        "job_type": "quantize",
        "target_runtime": "onnx",
        "weights_dtype": QuantizeDtype(weights_dtype).name,
        "activations_dtype": QuantizeDtype(activations_dtype).name,
        OPTIONS_SPEC_KEY: parsed.to_spec(),
    }
    record = lab.queue_host_job(model, name, job_options, spec, dataset.dataset_id)
    return lab.queued(QuantizeJob, record)
