"""Join policies: how add, concat and weighted_fusion reconcile inputs of different sizes.

A join's ``align`` argument picks the policy:

- ``none``: heights and widths must already be equal (a ShapeError otherwise);
- ``pad``: zero-pad every input to the largest height and width, half the
  margin on each side and the odd pixel on the bottom or right;
- ``crop``: center-crop every input to the smallest height and width, the
  odd pixel taken off the bottom or right;
- ``resize``: interpolate every input to the height and width of input 0.

The size functions here are pure Python, shared by the blocks' ``infer``; the
tensor functions apply the same rule in ``forward``.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from pydantic import Field
from torch.nn import functional as F

from cvgraph.block import BlockArgs

__all__ = ["AlignArgs", "Align", "aligned_size", "align_tensors", "center_offset", "pad_margins"]

Align = Literal["none", "pad", "crop", "resize"]


class AlignArgs(BlockArgs):
    """Arguments shared by the join blocks."""

    align: Align = Field(
        default="none",
        description="how inputs of different heights and widths join: none (must match), pad, crop or resize",
    )
    resize_mode: Literal["nearest", "bilinear"] = Field(
        default="bilinear", description="interpolation for align: resize"
    )


def aligned_size(sizes: Sequence[int | None], policy: Align) -> int | None:
    """Return the joined size along one axis, or None when a free size decides it.

    For ``none`` the caller checks that the sizes are equal; this returns the
    first known size.
    """
    if policy == "resize":
        return sizes[0]
    if any(size is None for size in sizes):
        return None
    known = [size for size in sizes if size is not None]
    if policy == "pad":
        return max(known)
    if policy == "crop":
        return min(known)
    return known[0]


def center_offset(size: int, target: int) -> int:
    """Return the first row (or column) of a center crop from ``size`` to ``target`` pixels."""
    return (size - target) // 2


def pad_margins(size: int, target: int) -> tuple[int, int]:
    """Return the (before, after) zero padding that grows ``size`` to ``target`` pixels."""
    before = (target - size) // 2
    return before, target - size - before


def _crop_to(tensor: torch.Tensor, height: int, width: int) -> torch.Tensor:
    top = center_offset(tensor.shape[-2], height)
    left = center_offset(tensor.shape[-1], width)
    return tensor[..., top : top + height, left : left + width]


def _pad_to(tensor: torch.Tensor, height: int, width: int) -> torch.Tensor:
    top, bottom = pad_margins(tensor.shape[-2], height)
    left, right = pad_margins(tensor.shape[-1], width)
    return F.pad(tensor, (left, right, top, bottom))


def align_tensors(tensors: Sequence[torch.Tensor], policy: Align, resize_mode: str = "bilinear") -> list[torch.Tensor]:
    """Bring (N, C, H, W) tensors to one height and width by ``policy``."""
    if policy == "none":
        return list(tensors)
    heights = [int(t.shape[-2]) for t in tensors]
    widths = [int(t.shape[-1]) for t in tensors]

    if policy == "pad":
        height, width = max(heights), max(widths)
        return [t if t.shape[-2:] == (height, width) else _pad_to(t, height, width) for t in tensors]
    if policy == "crop":
        height, width = min(heights), min(widths)
        return [t if t.shape[-2:] == (height, width) else _crop_to(t, height, width) for t in tensors]

    height, width = heights[0], widths[0]
    align_corners = False if resize_mode == "bilinear" else None
    return [
        t if t.shape[-2:] == (height, width) else F.interpolate(t, size=(height, width), mode=resize_mode, align_corners=align_corners)
        for t in tensors
    ]
