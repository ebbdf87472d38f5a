"""Trace a PyTorch module, compile it to ONNX with input_specs, profile it."""

import numpy as np
import torch

import controller as hub


class SimpleNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.relu(self.conv(x))).flatten(1)


torch_model = SimpleNet().eval()
input_shape = (1, 3, 32, 32)
example_input = torch.rand(input_shape)
traced_model = torch.jit.trace(torch_model, example_input)

device = hub.Device("Snapdragon 8 Gen 2 (simulated)")
compile_job = hub.submit_compile_job(
    model=traced_model,
    device=device,
    input_specs=dict(image=input_shape),
    options="--target_runtime onnx",
)
assert isinstance(compile_job, hub.CompileJob)
target_model = compile_job.get_target_model()
assert target_model is not None, compile_job.get_status().message

inference_job = hub.submit_inference_job(
    model=target_model,
    device=device,
    inputs=dict(image=[example_input.numpy()]),
)
on_device = inference_job.download_output_data()
assert on_device is not None
output_name = list(on_device.keys())[0]
expected = torch_model(example_input).detach().numpy()
print("max abs diff:", np.abs(on_device[output_name][0] - expected).max())
assert np.allclose(on_device[output_name][0], expected, atol=1e-3)
