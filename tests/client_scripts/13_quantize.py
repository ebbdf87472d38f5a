"""Quantize an ONNX model with calibration data, then profile the quantized model
on the simulated NPU."""

import numpy as np

import controller as hub

calibration_data = {"image": [np.random.randn(1, 3, 32, 32).astype(np.float32) for _ in range(4)]}
job = hub.submit_quantize_job(
    "tiny_cnn.onnx",
    calibration_data,
    weights_dtype=hub.QuantizeDtype.INT8,
    activations_dtype=hub.QuantizeDtype.INT8,
    name="tiny_cnn",
)
assert isinstance(job, hub.QuantizeJob)
quantized_model = job.get_target_model()
assert quantized_model is not None, job.get_status().message
print("quantized:", quantized_model, quantized_model.model_type)

device = hub.Device("Snapdragon 8 Gen 2 (simulated)")
profile_job = hub.submit_profile_job(
    quantized_model, device, options="--compute_unit npu --max_profiler_iterations 3"
)
profile = profile_job.download_profile()
units = {layer["compute_unit"] for layer in profile["execution_detail"]}
print("compute units:", units)
assert "NPU" in units

# Compile the quantized model to a context binary with quantized inputs and outputs;
# feed it inputs quantized with the scale and zero point its input spec gives.
compile_job = hub.submit_compile_job(
    quantized_model, device, options="--target_runtime qnn_context_binary --quantize_io"
)
binary = compile_job.get_target_model()
assert binary is not None, compile_job.get_status().message
spec = binary.input_spec[None][0]
print("binary input:", spec)
assert spec.scale is not None and spec.zero_point is not None
sample = calibration_data["image"][0]
limits = np.iinfo(np.dtype(spec.dtype))
quantized = np.clip(np.round(sample / spec.scale + spec.zero_point), limits.min, limits.max)
inference = hub.submit_inference_job(
    binary, device, inputs={spec.name: [quantized.astype(spec.dtype)]}
)
outputs = inference.download_output_data()
assert outputs is not None
print({name: values[0].shape for name, values in outputs.items()})
