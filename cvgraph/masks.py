"""Class masks of segmentation models: colour palette and atomic PNG writing.

A mask is an (H, W) array of class indices. It is written as a palette PNG,
so each pixel stores the class index and viewers show the palette colour.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import Location, SpecError
from .weights import atomic_write

__all__ = ["class_palette", "mask_path", "write_mask"]

MAX_PALETTE_CLASSES = 256
"""A palette PNG stores one byte per pixel."""


def class_palette(num_classes: int) -> np.ndarray:
    """Return a (num_classes, 3) uint8 palette of distinct colours, class 0 black.

    The bits of each class index are spread over the high bits of red, green
    and blue (the scheme of the PASCAL VOC masks), so neighbouring indices
    get clearly different colours.
    """
    palette = np.zeros((num_classes, 3), dtype=np.uint8)
    for label in range(num_classes):
        value = label
        for shift in range(7, -1, -1):
            for channel in range(3):
                palette[label, channel] |= ((value >> channel) & 1) << shift
            value >>= 3
    return palette


def mask_path(image_path: Path, spec_name: str) -> Path:
    """Return where the mask of ``image_path`` goes: ``<stem>.<spec>.mask.png`` in the same folder."""
    return image_path.with_name(f"{image_path.stem}.{spec_name}.mask.png")


def write_mask(mask: np.ndarray, path: Path, num_classes: int, *, source: Path) -> None:
    """Write an (H, W) mask of class indices as a palette PNG, atomically.

    Args:
        mask: class indices in ``[0, num_classes)``.
        path: the PNG file to write.
        num_classes: K, the number of classes the palette covers.
        source: the photo the mask belongs to; it is never overwritten.

    Raises:
        SpecError: when ``path`` is the photo itself, or K exceeds 256.
    """
    from PIL import Image

    if path.resolve() == source.resolve():
        raise SpecError(
            "the mask would overwrite the input image",
            location=Location(str(source)),
            found=str(path),
            hint="rename the image so that its mask name differs from it",
        )
    if num_classes > MAX_PALETTE_CLASSES:
        raise SpecError(
            f"too many classes for a palette PNG: {num_classes}",
            expected=f"at most {MAX_PALETTE_CLASSES} classes",
            found=f"{num_classes} classes",
            hint="write the argmax of the class scores yourself, for example as a 16-bit PNG",
        )
    image = Image.fromarray(mask.astype(np.uint8), mode="P")
    image.putpalette(class_palette(MAX_PALETTE_CLASSES).reshape(-1).tolist())

    def save(temporary: Path) -> None:
        image.save(temporary, format="PNG")
        # The temporary file is created private (0600); a mask is an image meant to be viewed.
        os.chmod(temporary, 0o644)

    atomic_write(path, save)
