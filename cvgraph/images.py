"""Reading images from disk into normalized tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import Location, SpecError

__all__ = ["read_image", "to_tensor", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageError(SpecError):
    """An image that is missing or cannot be decoded."""


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array.

    Grayscale images are repeated over three channels; alpha is dropped.

    Raises:
        ImageError: naming the file when it is missing or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError("image file not found", location=Location(str(path)), hint="check the path")
    try:
        with Image.open(path) as image:
            image.load()
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageError(
            f"cannot read the image: {error}",
            location=Location(str(path)),
            hint="use a PNG, JPEG, BMP or another format that Pillow reads",
        ) from None
    return np.asarray(rgb, dtype=np.uint8)


def to_tensor(image: np.ndarray, size: tuple[int, int] | None = None, normalize: bool = True) -> torch.Tensor:
    """Convert an (H, W, 3) uint8 image to a (1, 3, H, W) float tensor.

    Args:
        image: the RGB image.
        size: resize to this (height, width) with bilinear interpolation.
        normalize: subtract the ImageNet mean and divide by its standard deviation.
    """
    tensor = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float().div_(255).unsqueeze(0)
    if size is not None and tuple(tensor.shape[-2:]) != tuple(size):
        tensor = torch.nn.functional.interpolate(tensor, size=size, mode="bilinear", align_corners=False, antialias=True)
    if normalize:
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        tensor = (tensor - mean) / std
    return tensor
