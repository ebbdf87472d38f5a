"""A script written for a phone, run in CI with DEVICELAB_SIMULATE=1: the
Samsung Galaxy S23 resolves to its SoC's simulated twin."""

import controller as hub

device = hub.Device("Samsung Galaxy S23")
model = hub.upload_model("tiny_cnn.onnx")
job = hub.submit_profile_job(
    model=model,
    device=device,
    options="--compute_unit cpu --max_profiler_iterations 3",
)
profile = job.download_profile()
print(job.device)
print(profile["execution_summary"]["estimated_inference_time"])
inference = hub.submit_inference_job(model, device, profile=True)
print(inference.download_profile()["execution_summary"]["estimated_inference_time"])
