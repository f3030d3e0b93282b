"""Batched crop-and-resize by area averaging, through summed-area tables.

``F.interpolate(crop, size, mode="area")`` (adaptive average pooling) of one
crop averages, for output cell ``i`` of ``n`` along an axis of ``m`` input
pixels, the pixels ``floor(i * m / n)`` to ``ceil((i + 1) * m / n) - 1``.
With a summed-area table of the whole image, each such average is four
look-ups, so crops of any sizes resize in one batched gather instead of one
interpolation call per crop. The table is integer for integer images and
float64 otherwise, so window sums are exact and the averages match the
per-crop interpolation to float32 rounding.

Glossary: N images, C channels, H and W image height and width, K crops,
S the output side in pixels.
"""

from __future__ import annotations

import torch

__all__ = ["summed_area_table", "crop_windows", "crop_resize_area"]


def summed_area_table(images: torch.Tensor) -> torch.Tensor:
    """Return the (N, W + 1, H + 1, C) summed-area table of (N, C, H, W) images.

    Entry ``[n, x, y, c]`` is the sum of channel ``c`` over columns ``< x``
    and rows ``< y``. The table is transposed (width before height) because
    torch's cumsum along the outer of two dimensions is several times slower,
    so each pass runs along the inner one. Integer images (such as uint8
    photos) give an integer table: int32 while ``H * W * 255`` fits, else
    int64. Float images give a float64 table.
    """
    if images.is_floating_point():
        dtype = torch.float64
    elif images.dtype == torch.uint8 and images.shape[2] * images.shape[3] * 255 < 2**31:
        dtype = torch.int32
    else:
        dtype = torch.int64
    along_width = images.permute(0, 2, 3, 1).to(dtype).cumsum(dim=2, dtype=dtype)
    table = along_width.transpose(1, 2).contiguous().cumsum(dim=2, dtype=dtype)
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
        table: (N, W + 1, H + 1, C) summed-area table from :func:`summed_area_table`.
        image_index: (K,) int64 image of each window.
        windows: (K, 4) int64 non-empty windows ``(x0, y0, x1, y1)`` inside the image.
        size: S, the output side in pixels.

    Returns:
        (K, C, S, S) float32 crops.
    """
    _, table_width, table_height, channels = table.shape
    rows_first, rows_last = _cell_bounds(windows[:, 1], windows[:, 3], size)
    cols_first, cols_last = _cell_bounds(windows[:, 0], windows[:, 2], size)
    counts = (rows_last - rows_first)[:, :, None] * (cols_last - cols_first)[:, None, :]

    # Each corner of each cell is one row of the table viewed as (N * (W + 1) * (H + 1), C):
    # (K, 1, S) column offsets plus (K, S, 1) row offsets give (K, S, S) row numbers.
    column_base = image_index[:, None] * table_width
    left = ((column_base + cols_first) * table_height)[:, None, :]
    right = ((column_base + cols_last) * table_height)[:, None, :]
    top, bottom = rows_first[:, :, None], rows_last[:, :, None]
    corners = torch.stack([right + bottom, right + top, left + bottom, left + top])
    values = table.view(-1, channels).index_select(0, corners.view(-1)).view(*corners.shape, channels)
    sums = (values[0] - values[1]) - (values[2] - values[3])

    precision = torch.float64 if table.dtype == torch.float64 else torch.float32
    means = sums.permute(0, 3, 1, 2).to(precision) / counts[:, None].to(precision)
    return means.to(torch.float32).contiguous()
