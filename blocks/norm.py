"""Normalization blocks."""

from __future__ import annotations

from typing import Sequence

from pydantic import Field
from torch import nn

from cvgraph.block import Block, BlockArgs, BuildContext, expect_feature_map
from cvgraph.errors import ShapeError
from cvgraph.shapes import FeatureMap, Shape

__all__ = ["BatchNorm2d", "FrozenBatchNorm2d", "GroupNorm"]


class BatchNorm2dArgs(BlockArgs):
    eps: float = Field(default=1e-5, gt=0)
    momentum: float | None = Field(default=0.1, ge=0, le=1, description="None: cumulative average")
    affine: bool = True
    track_running_stats: bool = True


class BatchNorm2d(Block):
    """Batch normalization over (N, H, W) for each channel."""

    view_of_input = False
    saves_output = False

    name = "batchnorm2d"
    description = "Batch normalization of a feature map (torch.nn.BatchNorm2d); num_features is inferred."
    Args = BatchNorm2dArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: BlockArgs) -> FeatureMap:
        return expect_feature_map(inputs[0])

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BatchNorm2dArgs, ctx: BuildContext) -> nn.BatchNorm2d:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        return nn.BatchNorm2d(
            x.channels,
            eps=args.eps,
            momentum=args.momentum,
            affine=args.affine,
            track_running_stats=args.track_running_stats,
        )

    @classmethod
    def num_params(cls, inputs: Sequence[Shape], args: BatchNorm2dArgs) -> int:
        return 2 * expect_feature_map(inputs[0]).channels if args.affine else 0


class GroupNormArgs(BlockArgs):
    num_groups: int = Field(ge=1)
    eps: float = Field(default=1e-5, gt=0)
    affine: bool = True


class GroupNorm(Block):
    """Group normalization: channels split into groups normalized per sample."""

    view_of_input = False
    saves_output = False

    name = "groupnorm"
    description = "Group normalization (torch.nn.GroupNorm); num_channels is inferred."
    Args = GroupNormArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: GroupNormArgs) -> FeatureMap:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        if x.channels % args.num_groups:
            raise ShapeError(
                f"num_groups={args.num_groups} must divide the channels",
                expected=f"channels divisible by {args.num_groups}",
                found=f"{x.channels} channels",
            )
        if x.height is not None and x.width is not None and (x.channels // args.num_groups) * x.height * x.width < 2:
            # torch's group_norm rejects groups of a single value, in training and in eval mode.
            raise ShapeError(
                f"groupnorm needs more than 1 value per group, but num_groups={args.num_groups} on {x} gives 1",
                expected="(channels / num_groups) x height x width >= 2",
                found=str(x),
                hint="use fewer groups or a larger input",
            )
        return x

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: GroupNormArgs, ctx: BuildContext) -> nn.GroupNorm:  # type: ignore[override]
        return nn.GroupNorm(args.num_groups, expect_feature_map(inputs[0]).channels, eps=args.eps, affine=args.affine)


class FrozenBatchNorm2dArgs(BlockArgs):
    eps: float = Field(default=1e-5, gt=0)


class FrozenBatchNorm2d(Block):
    """Batch normalization with fixed statistics and affine parameters (torchvision.ops.FrozenBatchNorm2d).

    Its buffers are ``weight``, ``bias``, ``running_mean`` and ``running_var``,
    with no ``num_batches_tracked``: the keys of torchvision's detection backbones.
    """

    view_of_input = False
    saves_output = False

    name = "frozen_batchnorm2d"
    description = "BatchNorm2d with frozen statistics and affine parameters (torchvision.ops.FrozenBatchNorm2d)."
    Args = FrozenBatchNorm2dArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: BlockArgs) -> FeatureMap:
        return expect_feature_map(inputs[0])

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: FrozenBatchNorm2dArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        from torchvision.ops import FrozenBatchNorm2d as TorchvisionFrozenBatchNorm2d

        return TorchvisionFrozenBatchNorm2d(expect_feature_map(inputs[0]).channels, eps=args.eps)
