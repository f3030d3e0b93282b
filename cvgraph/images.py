"""Reading images from disk into normalized tensors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .errors import Location, SpecError

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["read_image", "to_tensor", "classification_tensor", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageError(SpecError):
    """An image that is missing or cannot be decoded."""


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array.

    The EXIF orientation is applied. Grayscale images are repeated over three
    channels; 16-bit and floating-point images are scaled to 0..255 by their
    range; transparent pixels are composited onto white.

    Raises:
        ImageError: naming the file when it is missing or not an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise ImageError("the image path is a folder, not a file", location=Location(str(path)))
    if not path.is_file():
        raise ImageError("image file not found", location=Location(str(path)), hint="check the path")
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageError(
            f"cannot read the image: {error}",
            location=Location(str(path)),
            hint="the file is truncated or not an image; Pillow reads PNG, JPEG, BMP, TIFF and more",
        ) from None


def _to_rgb(image: "PIL.Image.Image") -> np.ndarray:
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        gray = np.round(scaled).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"), dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def classification_tensor(image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """Convert an image as ImageNet classifiers expect: resize, centre crop, normalize.

    The shorter side is resized to 256/224 of the crop (256 for a 224 crop),
    then the centre ``size`` is cut out, as torchvision's ImageNet weights'
    transforms do.

    Returns:
        A (1, 3, H, W) float tensor.
    """
    height, width = image.shape[:2]
    short = round(max(size) * 256 / 224)
    scale = short / min(height, width)
    resized = to_tensor(image, (max(size[0], round(height * scale)), max(size[1], round(width * scale))), normalize=True)
    top = (resized.shape[-2] - size[0]) // 2
    left = (resized.shape[-1] - size[1]) // 2
    return resized[..., top : top + size[0], left : left + size[1]].contiguous()


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
