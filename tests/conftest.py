"""Shared fixtures: real photos from scikit-image and a hypothesis profile for CI."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _photo(name: str) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real RGB photos shipped with scikit-image: astronaut, coffee, chelsea (a cat)."""
    return {name: _photo(name) for name in ("astronaut", "coffee", "chelsea")}


@pytest.fixture(scope="session")
def photo_batch(photos: dict[str, np.ndarray]) -> torch.Tensor:
    """The three photos resized to 224x224 and normalized, as a (3, 3, 224, 224) batch."""
    from cvgraph.images import to_tensor

    return torch.cat([to_tensor(image, (224, 224)) for image in photos.values()])
