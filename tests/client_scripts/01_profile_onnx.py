"""Upload an ONNX model, profile it, read the execution summary (the client's
getting-started flow)."""

import controller as hub

model = hub.upload_model("tiny_cnn.onnx")
print(model)

profile_job = hub.submit_profile_job(
    model=model,
    device=hub.Device(),
    name="tiny_cnn profile",
    options="--max_profiler_iterations 3",
)
assert isinstance(profile_job, hub.Job)
print(profile_job.url)

profile = profile_job.download_profile()
summary = profile["execution_summary"]
print(f"Estimated inference time: {summary['estimated_inference_time'] / 1000:.3f} ms")
print(f"Peak memory: {summary['estimated_inference_peak_memory'] / 1024 / 1024:.1f} MB")
assert isinstance(summary["estimated_inference_time"], int)
peak_range = summary.get("inference_memory_peak_range")
if peak_range is not None:
    low, high = peak_range
    print(f"Inference peak memory between {low} and {high} bytes")
print("all inference times:", summary.get("all_inference_times"))

for layer in profile["execution_detail"]:
    print(layer["name"], layer["type"], layer["compute_unit"], layer["execution_time"])
assert profile["execution_detail"], "per-layer rows expected"
