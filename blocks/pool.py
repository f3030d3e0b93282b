"""Pooling blocks: max (with indices), max un-pooling, average, adaptive average and global pooling."""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import torch
from pydantic import Field, model_validator
from torch import nn

from cvgraph.block import Block, BlockArgs, BuildContext, IntPair, ReceptiveFieldStep, expect_feature_map
from cvgraph.errors import ShapeError
from cvgraph.shapes import FeatureMap, PoolIndices, Shape, Tensor, Vector, describe

from ._shape import pool_out

__all__ = ["MaxPool2d", "MaxPool2dWithIndices", "MaxUnpool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool"]


class _PoolArgs(BlockArgs):
    kernel_size: IntPair = Field(description="window height and width")
    stride: IntPair | None = Field(default=None, description="step in pixels; default: kernel_size")
    padding: IntPair = (0, 0)
    ceil_mode: bool = Field(default=False, description="round the output size up instead of down")

    @property
    def step(self) -> tuple[int, int]:
        return self.stride if self.stride is not None else self.kernel_size

    @model_validator(mode="after")
    def _ranges(self) -> "_PoolArgs":
        if min(self.kernel_size) < 1 or min(self.step) < 1:
            raise ValueError(f"kernel_size and stride must be >= 1, found {self.kernel_size} and {self.step}")
        for axis in range(2):
            if not 0 <= self.padding[axis] <= self._span(axis) // 2:
                raise ValueError(
                    f"padding {self.padding} must be >= 0 and at most half the window ({self._span(axis)} along axis {axis})"
                )
        return self

    def _span(self, axis: int) -> int:
        return self.kernel_size[axis]


class MaxPool2dArgs(_PoolArgs):
    dilation: IntPair = (1, 1)

    @model_validator(mode="before")
    @classmethod
    def _positive_dilation(cls, data: object) -> object:
        # torch checks padding against the undilated kernel size, as _PoolArgs does.
        dilation = data.get("dilation") if isinstance(data, dict) else None
        values = dilation if isinstance(dilation, (list, tuple)) else [dilation]
        if any(isinstance(v, int) and not isinstance(v, bool) and v < 1 for v in values):
            raise ValueError(f"dilation must be >= 1, found {dilation}")
        return data


def _pooled(x: FeatureMap, args: _PoolArgs, dilation: tuple[int, int]) -> FeatureMap:
    step = args.step
    height = pool_out(x.height, args.kernel_size[0], step[0], args.padding[0], dilation[0], args.ceil_mode, "height")
    width = pool_out(x.width, args.kernel_size[1], step[1], args.padding[1], dilation[1], args.ceil_mode, "width")
    return FeatureMap(x.channels, height, width, x.stride * step[0])


class MaxPool2d(Block):
    """Max pooling over a sliding window."""

    view_of_input = False
    saves_output = False

    name = "maxpool2d"
    description = "2-D max pooling (torch.nn.MaxPool2d)."
    Args = MaxPool2dArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: MaxPool2dArgs) -> FeatureMap:  # type: ignore[override]
        return _pooled(expect_feature_map(inputs[0]), args, args.dilation)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: MaxPool2dArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return nn.MaxPool2d(args.kernel_size, args.step, args.padding, args.dilation, ceil_mode=args.ceil_mode)

    @classmethod
    def receptive_field(cls, args: MaxPool2dArgs) -> ReceptiveFieldStep:  # type: ignore[override]
        return ReceptiveFieldStep(args.kernel_size, args.step, args.dilation, args.padding)


class AvgPool2dArgs(_PoolArgs):
    count_include_pad: bool = Field(default=True, description="count padded zeros in the average")


class AvgPool2d(Block):
    """Average pooling over a sliding window."""

    view_of_input = False
    saves_output = False

    name = "avgpool2d"
    description = "2-D average pooling (torch.nn.AvgPool2d)."
    Args = AvgPool2dArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: AvgPool2dArgs) -> FeatureMap:  # type: ignore[override]
        return _pooled(expect_feature_map(inputs[0]), args, (1, 1))

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: AvgPool2dArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return nn.AvgPool2d(args.kernel_size, args.step, args.padding, args.ceil_mode, args.count_include_pad)

    @classmethod
    def receptive_field(cls, args: AvgPool2dArgs) -> ReceptiveFieldStep:  # type: ignore[override]
        return ReceptiveFieldStep(args.kernel_size, args.step, (1, 1), args.padding)


class AdaptiveAvgPool2dArgs(BlockArgs):
    output_size: IntPair = Field(default=(1, 1), description="output height and width")

    @model_validator(mode="after")
    def _positive(self) -> "AdaptiveAvgPool2dArgs":
        if min(self.output_size) < 1:
            raise ValueError(f"output_size must be >= 1, found {self.output_size}")
        return self


class AdaptiveAvgPool2d(Block):
    """Average pooling to a fixed output size, whatever the input size."""

    view_of_input = False
    saves_output = False

    name = "adaptive_avgpool2d"
    description = "Average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d)."
    Args = AdaptiveAvgPool2dArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: AdaptiveAvgPool2dArgs) -> FeatureMap:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        stride = x.stride * Fraction(x.height, args.output_size[0]) if x.height else x.stride
        return FeatureMap(x.channels, args.output_size[0], args.output_size[1], stride)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: AdaptiveAvgPool2dArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return nn.AdaptiveAvgPool2d(args.output_size)

    @classmethod
    def receptive_field(cls, args: AdaptiveAvgPool2dArgs) -> ReceptiveFieldStep:  # type: ignore[override]
        return ReceptiveFieldStep(whole_input=True)


class _GlobalAvgPool(nn.Module):
    def forward(self, x):  # type: ignore[no-untyped-def]
        return x.mean(dim=(2, 3))


class GlobalAvgPool(Block):
    """Average each channel over all pixels: (N, C, H, W) -> (N, C)."""

    view_of_input = False
    saves_output = False

    name = "global_avgpool"
    description = "Mean over height and width, giving a vector of the channels."

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: BlockArgs) -> Vector:
        return Vector(expect_feature_map(inputs[0]).channels)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return _GlobalAvgPool()


class MaxPool2dWithIndices(Block):
    """Max pooling that also returns the argmax indices, for max un-pooling (SegNet)."""

    view_of_input = False

    name = "maxpool2d_with_indices"
    description = "2-D max pooling returning (values, indices); address them as 'node.values' and 'node.indices'."
    Args = MaxPool2dArgs
    outputs = ("values", "indices")

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: MaxPool2dArgs) -> dict[str, Shape]:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        values = _pooled(x, args, args.dilation)
        indices = PoolIndices(
            (values.channels, values.height, values.width),
            source_height=x.height,
            source_width=x.width,
            source_stride=x.stride,
        )
        return {"values": values, "indices": indices}

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: MaxPool2dArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return nn.MaxPool2d(
            args.kernel_size, args.step, args.padding, args.dilation, return_indices=True, ceil_mode=args.ceil_mode
        )

    @classmethod
    def receptive_field(cls, args: MaxPool2dArgs) -> ReceptiveFieldStep:  # type: ignore[override]
        return ReceptiveFieldStep(args.kernel_size, args.step, args.dilation, args.padding)


class MaxUnpool2dArgs(BlockArgs):
    kernel_size: IntPair = Field(description="window height and width of the pooling being undone")
    stride: IntPair | None = Field(default=None, description="step of the pooling being undone; default: kernel_size")
    padding: IntPair = (0, 0)

    @property
    def step(self) -> tuple[int, int]:
        return self.stride if self.stride is not None else self.kernel_size

    @model_validator(mode="after")
    def _ranges(self) -> "MaxUnpool2dArgs":
        if min(self.kernel_size) < 1 or min(self.step) < 1 or min(self.padding) < 0:
            raise ValueError(
                f"kernel_size and stride must be >= 1 and padding >= 0, found {self.kernel_size}, {self.step}, {self.padding}"
            )
        return self


class _MaxUnpool2d(nn.MaxUnpool2d):
    """``nn.MaxUnpool2d`` whose output size comes from the indices' source tensor when one is given."""

    def forward(self, input: torch.Tensor, indices: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        size = None if like is None else [int(like.shape[-2]), int(like.shape[-1])]
        return super().forward(input, indices, output_size=size)


def _unpooled_size(size: int | None, kernel: int, stride: int, padding: int) -> int | None:
    return None if size is None else (size - 1) * stride - 2 * padding + kernel


class MaxUnpool2d(Block):
    """Max un-pooling: scatter values back to the positions their pooling took them from.

    Inputs: the feature map to up-sample, the ``indices`` output of a
    ``maxpool2d_with_indices`` node, and optionally the pooling's input, whose
    height and width the output then takes (needed when that size was odd).
    """

    view_of_input = False
    saves_output = False

    name = "max_unpool2d"
    description = "Max un-pooling with the indices of a maxpool2d_with_indices node (torch.nn.MaxUnpool2d)."
    Args = MaxUnpool2dArgs
    arity = (2, 3)

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: MaxUnpool2dArgs) -> FeatureMap:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        indices = inputs[1]
        if not isinstance(indices, PoolIndices):
            raise ShapeError(
                "input 1 of max_unpool2d must be pooling indices",
                expected="PoolIndices, the 'indices' output of a maxpool2d_with_indices node",
                found=describe(indices),
                hint="write 'from: [features, pool.indices]'",
            )
        if not _free_match(indices.dims, x):
            raise ShapeError(
                "the values and the indices of max_unpool2d differ in shape",
                expected=f"values of shape {Tensor.__str__(indices)} like the indices",
                found=f"values {x}",
                hint="un-pool the output of the decoder stage that mirrors the pooling",
            )
        step = args.step
        height = _unpooled_size(x.height, args.kernel_size[0], step[0], args.padding[0])
        width = _unpooled_size(x.width, args.kernel_size[1], step[1], args.padding[1])
        if len(inputs) == 3:
            like = expect_feature_map(inputs[2], "input 2 (the size to match)")
            height, width = like.height, like.width
        source = (indices.source_height, indices.source_width)
        for axis, got, wanted in (("height", height, source[0]), ("width", width, source[1])):
            if got is not None and wanted is not None and got != wanted:
                raise ShapeError(
                    f"max_unpool2d gives {axis} {got}, but the pooling input had {axis} {wanted}",
                    expected=f"{axis} {wanted}",
                    found=f"{axis} {got}",
                    hint="add the pooling's input node as the third input: 'from: [x, pool.indices, pool_input]'",
                )
        return FeatureMap(x.channels, height, width, indices.source_stride)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: MaxUnpool2dArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return _MaxUnpool2d(args.kernel_size, args.step, args.padding)

    @classmethod
    def receptive_field(cls, args: MaxUnpool2dArgs) -> ReceptiveFieldStep:  # type: ignore[override]
        # Each output pixel is zero or one input value, so only the pixel spacing changes.
        return ReceptiveFieldStep(kernel=(1, 1), stride=args.step, transposed=True)


def _free_match(dims: tuple[int | None, ...], x: FeatureMap) -> bool:
    """Return True when ``dims`` and ``x`` agree wherever both sizes are known."""
    return all(a is None or b is None or a == b for a, b in zip(dims, (x.channels, x.height, x.width)))
