"""Resampling blocks: up-sampling by a scale or to another node's size, and center crop.

Glossary: C channels, H height, W width (pixels).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal, Sequence

import torch
from pydantic import Field, model_validator
from torch import nn
from torch.nn import functional as F

from cvgraph.block import Block, BlockArgs, BuildContext, IntPair, ReceptiveFieldStep, expect_feature_map
from cvgraph.errors import ShapeError
from cvgraph.shapes import FeatureMap, Shape

from ._align import center_offset

__all__ = ["Upsample", "CenterCrop"]


class UpsampleArgs(BlockArgs):
    scale_factor: IntPair | None = Field(
        default=None, description="integer up-sampling factor per axis; leave out to match the size of input 1"
    )
    mode: Literal["nearest", "bilinear"] = "nearest"
    align_corners: bool = Field(default=False, description="bilinear only: align the corner pixels of input and output")

    @model_validator(mode="after")
    def _ranges(self) -> "UpsampleArgs":
        if self.scale_factor is not None and min(self.scale_factor) < 1:
            raise ValueError(f"scale_factor must be >= 1, found {self.scale_factor}")
        if self.align_corners and self.mode != "bilinear":
            raise ValueError("align_corners applies to mode 'bilinear' only")
        return self


class _Upsample(nn.Module):
    """``F.interpolate`` by a fixed scale, or to the height and width of a second tensor."""

    def __init__(self, scale_factor: tuple[int, int] | None, mode: str, align_corners: bool) -> None:
        super().__init__()
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners if mode == "bilinear" else None

    def forward(self, x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        if like is not None:
            size = (int(like.shape[-2]), int(like.shape[-1]))
            return F.interpolate(x, size=size, mode=self.mode, align_corners=self.align_corners)
        scale = (float(self.scale_factor[0]), float(self.scale_factor[1]))  # type: ignore[index]
        return F.interpolate(x, scale_factor=scale, mode=self.mode, align_corners=self.align_corners)

    def extra_repr(self) -> str:
        target = f"scale_factor={self.scale_factor}" if self.scale_factor else "size=input 1"
        return f"{target}, mode={self.mode}"


class Upsample(Block):
    """Nearest or bilinear up-sampling by an integer scale, or to the size of a second input.

    With a second input only its height and width are read: FCN up-samples its
    scores to the image, an FPN its top-down path to the lateral map.
    """

    view_of_input = False
    saves_output = False

    name = "upsample"
    description = "Nearest or bilinear up-sampling by scale_factor, or to the height and width of input 1."
    Args = UpsampleArgs
    arity = (1, 2)

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: UpsampleArgs) -> FeatureMap:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        if len(inputs) == 2:
            like = expect_feature_map(inputs[1], "input 1 (the size to match)")
            if args.scale_factor is not None:
                raise ShapeError(
                    "upsample takes either scale_factor or a second input to match, not both",
                    expected="one of scale_factor or input 1",
                    found=f"scale_factor {list(args.scale_factor)} and input 1 {like}",
                    hint="remove scale_factor to match input 1, or remove input 1",
                )
            return FeatureMap(x.channels, like.height, like.width, like.stride)
        if args.scale_factor is None:
            raise ShapeError(
                "upsample needs a scale_factor or a second input to match",
                expected="scale_factor, such as 2, or 'from: [x, reference]'",
                found="neither",
            )
        scale_h, scale_w = args.scale_factor
        height = None if x.height is None else x.height * scale_h
        width = None if x.width is None else x.width * scale_w
        return FeatureMap(x.channels, height, width, x.stride / Fraction(scale_h))

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: UpsampleArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return _Upsample(args.scale_factor, args.mode, args.align_corners)

    @classmethod
    def receptive_field(cls, args: UpsampleArgs) -> ReceptiveFieldStep | None:  # type: ignore[override]
        # Nearest reads one input pixel per output pixel, bilinear two neighbours per axis: a
        # transposed step of kernel 1 or scale + 1. The scale of a size-matching node depends on
        # the shapes, which this hook does not get.
        # NOTE: so a size-matching upsample reports the widest field of its inputs unchanged.
        if args.scale_factor is None:
            return None
        extra = 1 if args.mode == "bilinear" else 0
        kernel = (args.scale_factor[0] * extra + 1, args.scale_factor[1] * extra + 1)
        return ReceptiveFieldStep(kernel=kernel, stride=args.scale_factor, transposed=True)


class CenterCropArgs(BlockArgs):
    symmetric: bool = Field(
        default=True,
        description="require even margins so the crop is exactly centered; false takes the odd pixel off the bottom or right",
    )


class _CenterCrop(nn.Module):
    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        height, width = int(like.shape[-2]), int(like.shape[-1])
        top = center_offset(int(x.shape[-2]), height)
        left = center_offset(int(x.shape[-1]), width)
        return x[..., top : top + height, left : left + width]


class CenterCrop(Block):
    """Center crop of input 0 to the height and width of input 1 (the U-Net skip connection)."""

    # The crop is a slice, so its output is a view of input 0 (the default view_of_input).
    saves_output = False

    name = "center_crop"
    description = "Crop input 0 around its center to the height and width of input 1."
    Args = CenterCropArgs
    arity = (2, 2)

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: CenterCropArgs) -> FeatureMap:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        like = expect_feature_map(inputs[1], "input 1 (the size to crop to)")
        for axis, size, target in (("height", x.height, like.height), ("width", x.width, like.width)):
            if size is None or target is None:
                continue
            if target > size:
                raise ShapeError(
                    f"cannot crop {axis} {size} to the larger {axis} {target} of input 1",
                    expected=f"input 1 {axis} <= {size}",
                    found=f"{axis} {target}",
                    hint="crop the larger map to the smaller one: 'from: [larger, smaller]'",
                )
            if args.symmetric and (size - target) % 2:
                raise ShapeError(
                    f"center crop from {axis} {size} to {target} leaves an odd margin of {size - target} pixels",
                    expected=f"an even difference between the {axis}s",
                    found=f"{axis} {size} -> {target}",
                    hint="use an input size for which every pooled map has an even size, or set symmetric: false",
                )
        return FeatureMap(x.channels, like.height, like.width, x.stride)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: CenterCropArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return _CenterCrop()
