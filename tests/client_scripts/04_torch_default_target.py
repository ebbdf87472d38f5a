"""Getting started with a traced PyTorch model: compile with the default target
(TFLite), then profile the compiled model."""

import torch

import controller as hub

torch_model = torch.nn.Sequential(
    torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 10)
).eval()
input_shape = (1, 3, 16, 16)
traced_model = torch.jit.trace(torch_model, torch.rand(input_shape))

device = hub.Device()
compile_job = hub.submit_compile_job(
    model=traced_model,
    device=device,
    input_specs=dict(image=input_shape),
)
assert isinstance(compile_job, hub.CompileJob)
target_model = compile_job.get_target_model()
assert target_model is not None, compile_job.get_status().message
print("compiled to", target_model.model_type)
assert target_model.model_type == hub.SourceModelType.TFLITE

profile_job = hub.submit_profile_job(
    model=target_model,
    device=device,
    options="--max_profiler_iterations 3",
)
print(profile_job.download_profile()["execution_summary"])

path = compile_job.download_target_model("simplenet.tflite")
print("downloaded", path)
