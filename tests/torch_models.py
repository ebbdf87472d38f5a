"""A tiny PyTorch module for the tests of PyTorch sources (import only where torch is)."""

from __future__ import annotations

from typing import Any


def tiny_net() -> Any:
    """A seeded conv + linear net taking ``image`` (1, 3, H, W) to 4 scores, in eval mode."""
    import torch

    class TinyNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.head = torch.nn.Linear(8, 4)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.conv(image)).mean(dim=(2, 3)))

    torch.manual_seed(0)
    return TinyNet().eval()
