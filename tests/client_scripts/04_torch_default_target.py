"""Getting started with a traced PyTorch model: compile with the default target
(TFLite), profile the compiled model, run it on the inputs named in input_specs."""

import numpy as np
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

sample = torch.rand(input_shape)
inference_job = hub.submit_inference_job(
    model=target_model,
    device=device,
    inputs=dict(image=[sample.numpy()]),
)
on_device = inference_job.download_output_data()
assert on_device is not None
output_name = list(on_device.keys())[0]
expected = torch_model(sample).detach().numpy()
np.testing.assert_allclose(on_device[output_name][0], expected, rtol=1e-4, atol=1e-5)

path = compile_job.download_target_model("simplenet.tflite")
print("downloaded", path)
