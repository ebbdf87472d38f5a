"""Compile an ONNX model for a Snapdragon with the onnx target, then profile the
compiled model on that device."""

import controller as hub

device = hub.Device("Snapdragon 8 Gen 2 (simulated)")

compile_job = hub.submit_compile_job(
    model="tiny_cnn.onnx",
    device=device,
    name="tiny_cnn onnx",
    options="--target_runtime onnx",
)
assert isinstance(compile_job, hub.CompileJob)

target_model = compile_job.get_target_model()
assert target_model is not None, compile_job.get_status().message
print("target model:", target_model.model_id, target_model.model_type)
print("compiled with:", compile_job.shapes, "-> target shapes:", compile_job.get_target_shapes())
assert compile_job.shapes == {"image": ((1, 3, 32, 32), "float32")}

profile_job = hub.submit_profile_job(
    model=target_model,
    device=device,
    options="--max_profiler_iterations 3",
)
profile = profile_job.download_profile()
print(profile["execution_summary"]["estimated_inference_time"], "us")
