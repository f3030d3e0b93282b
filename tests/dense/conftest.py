"""Shared fixtures of the dense-prediction tests: real photos and reference weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data
from torchvision.ops import FrozenBatchNorm2d

from cvgraph.images import to_tensor

PHOTOS = ("astronaut", "coffee", "chelsea")


def photo_tensor(name: str, height: int, width: int | None = None) -> torch.Tensor:
    """Return a scikit-image photo as a (1, 3, H, W) ImageNet-normalized tensor.

    With ``width`` None the aspect ratio is kept.
    """
    image = np.array(getattr(data, name)())
    if width is None:
        width = round(image.shape[1] * height / image.shape[0])
    return to_tensor(image, (height, width))


@pytest.fixture(params=PHOTOS)
def photo(request: pytest.FixtureRequest) -> torch.Tensor:
    """A real photo, 160 pixels high, batch of one."""
    return photo_tensor(request.param, 160)


def randomize_batchnorm(module: torch.nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm (plain or frozen) random statistics and affine parameters.

    Freshly built models have mean 0 and variance 1, which would hide a
    mismatch in how the statistics are loaded or applied.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for child in module.modules():
            if isinstance(child, (torch.nn.BatchNorm2d, FrozenBatchNorm2d)):
                channels = child.running_mean.shape
                child.running_mean.copy_(torch.randn(channels, generator=generator) * 0.1)
                child.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
                child.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
                child.bias.copy_(torch.randn(channels, generator=generator) * 0.1)
