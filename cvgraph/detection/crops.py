"""Batched crop-and-resize by area averaging, through summed-area tables.

``F.interpolate(crop, size, mode="area")`` (adaptive average pooling) of one
crop averages, for output cell ``i`` of ``n`` along an axis of ``m`` input
pixels, the pixels ``floor(i * m / n)`` to ``ceil((i + 1) * m / n) - 1``.
With a summed-area table of the whole image, each such average is four
look-ups, so crops of any sizes resize in one batched gather instead of one
interpolation call per crop. The table is in float64: pixel values are
integers up to 255, so the window sums are exact and the averages match
the per-crop interpolation to float32 rounding.

Glossary: N images, C channels, H and W image height and width, K crops,
S the output side in pixels.
"""

from __future__ import annotations

import torch

__all__ = ["summed_area_table", "crop_windows", "crop_resize_area"]


def summed_area_table(images: torch.Tensor) -> torch.Tensor:
    """Return the (N, H + 1, W + 1, C) float64 summed-area table of (N, C, H, W) images.

    Entry ``[n, y, x, c]`` is the sum of channel ``c`` over rows ``< y`` and columns ``< x``.
    """
    table = images.to(torch.float64).permute(0, 2, 3, 1).cumsum(dim=1).cumsum(dim=2)
    return torch.nn.functional.pad(table, (0, 0, 1, 0, 1, 0))


def crop_windows(boxes: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the integer pixel windows that MTCNN crops for boxes, and which are non-empty.

    The original MTCNN code truncates the corners toward zero, clamps the
    top-left corner to pixel 1 and the bottom-right one to the image size
    (1-based), then crops rows ``y1 - 1`` to ``y2 - 1`` inclusive. This
    returns the same window as 0-based ``[x0, y0, x1, y1)``.

    Args:
        boxes: (K, 4) float boxes ``(x1, y1, x2, y2)``.
        height: H in pixels.
        width: W in pixels.

    Returns:
        (K, 4) int64 windows ``(x0, y0, x1, y1)`` with exclusive ends, and a
        (K,) bool mask of the windows that hold at least one pixel.
    """
    corners = boxes.trunc().to(torch.int32).to(torch.int64)
    x0 = corners[:, 0].clamp(min=1) - 1
    y0 = corners[:, 1].clamp(min=1) - 1
    x1 = corners[:, 2].clamp(max=width)
    y1 = corners[:, 3].clamp(max=height)
    valid = (x1 > x0) & (y1 > y0)
    return torch.stack([x0, y0, x1, y1], dim=1), valid


def _cell_bounds(start: torch.Tensor, end: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (K, S) first and one-past-last input pixels of each output cell along one axis."""
    length = (end - start)[:, None]
    cells = torch.arange(size, device=start.device)[None, :]
    first = start[:, None] + (cells * length) // size
    last = start[:, None] + ((cells + 1) * length + size - 1) // size
    return first, last


def crop_resize_area(table: torch.Tensor, image_index: torch.Tensor, windows: torch.Tensor, size: int) -> torch.Tensor:
    """Crop windows from images and resize each to ``size x size`` by area averaging.

    Equal, to float32 rounding, to ``F.interpolate(image[:, :, y0:y1, x0:x1],
    (size, size), mode="area")`` for every window.

    Args:
        table: (N, H + 1, W + 1, C) summed-area table from :func:`summed_area_table`.
        image_index: (K,) int64 image of each window.
        windows: (K, 4) int64 non-empty windows ``(x0, y0, x1, y1)`` inside the image.
        size: S, the output side in pixels.

    Returns:
        (K, C, S, S) float32 crops.
    """
    rows_first, rows_last = _cell_bounds(windows[:, 1], windows[:, 3], size)
    cols_first, cols_last = _cell_bounds(windows[:, 0], windows[:, 2], size)
    n = image_index[:, None, None]

    def corner(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return table[n, rows[:, :, None], cols[:, None, :]]

    sums = (
        corner(rows_last, cols_last)
        - corner(rows_first, cols_last)
        - corner(rows_last, cols_first)
        + corner(rows_first, cols_first)
    )
    counts = (rows_last - rows_first)[:, :, None] * (cols_last - cols_first)[:, None, :]
    means = sums / counts[..., None].to(torch.float64)
    return means.permute(0, 3, 1, 2).to(torch.float32).contiguous()
