"""Pooling blocks: max, average, adaptive average and global pooling."""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

from pydantic import Field, model_validator
from torch import nn

from cvgraph.block import Block, BlockArgs, BuildContext, IntPair, ReceptiveFieldStep, expect_feature_map
from cvgraph.shapes import FeatureMap, Shape, Vector

from ._shape import pool_out

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool"]


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

    def _span(self, axis: int) -> int:
        return self.dilation[axis] * (self.kernel_size[axis] - 1) + 1


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
