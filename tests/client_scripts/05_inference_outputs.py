"""Run inference with inputs, download the outputs to memory and to an h5 file,
and check them against ONNX Runtime on the host."""

import h5py
import numpy as np
import onnxruntime

import controller as hub

input_tensor = np.random.random((1, 3, 32, 32)).astype(np.float32)

job = hub.submit_inference_job(
    model="tiny_cnn.onnx",
    device=hub.Device(),
    name="tiny_cnn (1, 3, 32, 32)",
    inputs=dict(image=[input_tensor]),
)
assert isinstance(job, hub.InferenceJob)

output_tensors = job.download_output_data()
assert output_tensors is not None
for name, values in output_tensors.items():
    print(name, [v.shape for v in values])

session = onnxruntime.InferenceSession("tiny_cnn.onnx", providers=["CPUExecutionProvider"])
output_name = session.get_outputs()[0].name
expected = session.run([output_name], {"image": input_tensor})[0]
np.testing.assert_allclose(output_tensors[output_name][0], expected, rtol=1e-4, atol=1e-5)

h5_path = job.download_output_data("outputs.h5")
print("saved", h5_path)
assert isinstance(h5_path, str)
with h5py.File(h5_path, "r") as h5f:
    print(list(h5f.keys()))

output_dataset = job.get_output_dataset()
assert output_dataset is not None
print(output_dataset)
