"""Upload a dataset, list and fetch it, download it, run inference on it."""

import numpy as np

import controller as hub

array = np.reshape(np.arange(3 * 32 * 32, dtype=np.float32), (1, 3, 32, 32)) / 3072
dataset = hub.upload_dataset(dict(image=[array, array * 2]), "tiny_cnn_dataset")
print("Dataset information:", dataset)
assert isinstance(dataset, hub.Dataset)
assert not dataset.is_expired()
print(dataset.get_expiration_status())

datasets = hub.get_datasets(limit=5)
assert dataset.dataset_id in [d.dataset_id for d in datasets]

same = hub.get_dataset(dataset.dataset_id)
entries = same.download()
assert list(entries) == ["image"] and len(entries["image"]) == 2
np.testing.assert_array_equal(entries["image"][1], array * 2)

path = same.download("tiny_cnn_dataset.h5")
print("saved", path)
from_h5 = hub.upload_dataset(path)
print(from_h5)

job = hub.submit_inference_job(model="tiny_cnn.onnx", device=hub.Device(), inputs=dataset)
outputs = job.download_output_data()
assert outputs is not None
for name, values in outputs.items():
    print(name, len(values), values[0].shape)
    assert len(values) == 2
assert job.inputs.dataset_id == dataset.dataset_id
