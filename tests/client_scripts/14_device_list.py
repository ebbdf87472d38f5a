"""Profile one model on several devices at once and compare the results."""

import numpy as np

import controller as hub

model = hub.upload_model("tiny_cnn.tflite")
devices = [hub.Device(), hub.Device("Snapdragon 8 Gen 3 (simulated)")]
jobs = hub.submit_profile_job(model, device=devices, options="--max_profiler_iterations 3")
assert isinstance(jobs, list) and len(jobs) == len(devices)

for job in jobs:
    profile = job.download_profile()
    summary = profile["execution_summary"]
    print(
        f"{job.device.name}: {summary['estimated_inference_time']} us,",
        f"first load {summary['first_load_time']} us",
    )

spec = model.input_spec[None][0]  # the graph's first input: TensorSpec(name, dtype, shape)
inputs = {spec.name: [np.zeros(spec.shape, dtype=spec.dtype)]}
inference_jobs = hub.submit_inference_job(model, device=devices, inputs=inputs)
assert isinstance(inference_jobs, list)
print([j.download_output_data() is not None for j in inference_jobs])
