"""The recipe's model: two convolutions and a classifier, weights from a fixed seed.

It follows qai-hub-models' recipe interface (``qai_hub_models/utils/base_model.py``):
``from_pretrained``, ``get_input_spec``, ``get_output_spec``. The input is an image
(``IoType.IMAGE``), so the export asks for channel-last inputs where the runtime
takes them (``--force_channel_last_input``), as the zoo's image models do.
"""

from __future__ import annotations

from typing import Self

import torch
from qai_hub_models.configs.tensor_spec import IoType, TensorSpec
from qai_hub_models.utils.base_model import BaseModel
from qai_hub_models.utils.input_spec import InputSpec, OutputSpec

MODEL_ID = __name__.split(".")[-2]
#: The seed the weights come from: the same model on every machine, no download.
WEIGHTS_SEED = 20261130
IMAGE_SIZE = 32
NUM_CLASSES = 10


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = torch.nn.Linear(16, NUM_CLASSES)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(image), 1))


class TinyCnn(BaseModel):
    """A 10-class image classifier on 32x32 RGB images (about 1,500 weights)."""

    @classmethod
    def from_pretrained(cls) -> Self:
        """The model with weights drawn from ``WEIGHTS_SEED`` (no files, no network)."""
        generator = torch.Generator().manual_seed(WEIGHTS_SEED)
        net = _Net()
        with torch.no_grad():
            for parameter in net.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
        return cls(net)

    def forward(self, image_tensor: torch.Tensor) -> torch.Tensor:
        """Class logits for RGB images in [0, 1], shape (N, 3, 32, 32)."""
        return self.model(image_tensor)

    @staticmethod
    def get_input_spec(batch_size: int = 1) -> InputSpec:
        return {
            "image_tensor": TensorSpec(
                shape=(batch_size, 3, IMAGE_SIZE, IMAGE_SIZE),
                dtype="float32",
                io_type=IoType.IMAGE,
                value_range=(0.0, 1.0),
            )
        }

    def get_output_spec(self) -> OutputSpec:
        return {"class_logits": TensorSpec(io_type=IoType.TENSOR)}
