"""submit_compile_and_profile_jobs for one device and for a list of devices."""

import controller as hub

model = hub.upload_model("tiny_cnn.onnx", name="My Model")

compile_job, profile_job = hub.submit_compile_and_profile_jobs(
    model,
    hub.Device("Snapdragon 8 Gen 2 (simulated)"),
    name="tiny_cnn",
    compile_options="--target_runtime onnx",
    profile_options="--max_profiler_iterations 3",
)
assert profile_job is not None
print(compile_job.get_status(), profile_job.get_status())
print(profile_job.download_profile()["execution_summary"]["estimated_inference_time"])

jobs = hub.submit_compile_and_profile_jobs(
    model,
    [hub.Device(), hub.Device("Snapdragon 8 Gen 1 (simulated)")],
    compile_options="--target_runtime onnx",
    profile_options="--max_profiler_iterations 3 --compute_unit cpu",
)
assert isinstance(jobs, list) and len(jobs) == 2
for cjob, pjob in jobs:
    assert pjob is not None
    status = pjob.wait()
    print(cjob.job_id, pjob.job_id, status.code)
    assert status.success, status.message
