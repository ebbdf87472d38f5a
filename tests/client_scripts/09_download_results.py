"""Download all results of a compile job and of a profile job into folders."""

import os

import controller as hub

device = hub.Device("Snapdragon 8 Gen 2 (simulated)")
compile_job = hub.submit_compile_job(
    "tiny_cnn.onnx", device, options="--target_runtime qnn_context_binary"
)
compile_result = compile_job.download_results("artifacts")
print(compile_result)
assert isinstance(compile_result, hub.CompileJobResult)
assert compile_result.status.success, compile_result.status.message
print(os.listdir(compile_result.artifacts_dir))
assert any(name.endswith(".bin") for name in os.listdir("artifacts")), os.listdir("artifacts")

profile_job = hub.submit_profile_job(
    compile_job.get_target_model(), device, options="--max_profiler_iterations 3"
)
job = hub.get_job(profile_job.job_id)
job_result = job.download_results("profile_artifacts")
print(job_result)
assert isinstance(job_result, hub.InferenceJobResult)
assert job_result.profile is not None
print(job_result.profile["execution_summary"]["estimated_inference_time"])
assert os.path.isdir("profile_artifacts")
print(os.listdir("profile_artifacts"))

profile_path = profile_job.download_profile("profile.json")
print("profile saved to", profile_path)
assert os.path.exists(profile_path)
