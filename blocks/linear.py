"""Blocks on vectors: flatten and fully connected layers."""

from __future__ import annotations

from typing import Sequence

from pydantic import Field
from torch import nn

from cvgraph.block import Block, BlockArgs, BuildContext, expect_feature_map, expect_vector
from cvgraph.errors import ShapeError
from cvgraph.shapes import FeatureMap, Shape, Vector

__all__ = ["Flatten", "Linear"]


class Flatten(Block):
    """(N, C, H, W) -> (N, C*H*W), in the memory order of ``torch.flatten``."""

    view_of_input = True
    saves_output = False

    name = "flatten"
    description = "Flatten a feature map of fixed size into a vector."

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: BlockArgs) -> Vector:
        x = inputs[0]
        if isinstance(x, Vector):
            return x
        x = expect_feature_map(x)
        if x.height is None or x.width is None:
            raise ShapeError(
                "flatten needs a fixed height and width",
                found=str(x),
                hint="give the input a fixed size, or pool to a fixed size first (adaptive_avgpool2d)",
            )
        return Vector(x.channels * x.height * x.width)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.Flatten(1)


class LinearArgs(BlockArgs):
    in_features: int | None = Field(default=None, ge=1, description="checked against the input; inferred when left out")
    out_features: int = Field(ge=1)
    bias: bool = True


class Linear(Block):
    """Fully connected layer; ``in_features`` comes from the input vector."""

    view_of_input = False
    saves_output = False

    name = "linear"
    description = "Fully connected layer (torch.nn.Linear); in_features is inferred."
    Args = LinearArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: LinearArgs) -> Vector:  # type: ignore[override]
        if isinstance(inputs[0], FeatureMap):
            raise ShapeError(
                "linear needs a vector, not a feature map",
                expected="Vector (N, F)",
                found=f"FeatureMap({inputs[0]})",
                hint="insert a 'flatten' or 'global_avgpool' node before it",
            )
        x = expect_vector(inputs[0])
        if args.in_features is not None and args.in_features != x.features:
            raise ShapeError(
                f"in_features={args.in_features} does not match the input, which has {x.features} features",
                expected=f"Vector({args.in_features})",
                found=f"Vector({x.features})",
                hint="fix the node that feeds this one, or drop 'in_features' to take it from the input",
            )
        return Vector(args.out_features)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: LinearArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return nn.Linear(expect_vector(inputs[0]).features, args.out_features, bias=args.bias)

    @classmethod
    def macs(cls, inputs: Sequence[Shape], output: Vector, args: LinearArgs) -> int:  # type: ignore[override]
        return expect_vector(inputs[0]).features * args.out_features

    @classmethod
    def num_params(cls, inputs: Sequence[Shape], args: LinearArgs) -> int:
        features = expect_vector(inputs[0]).features
        return features * args.out_features + (args.out_features if args.bias else 0)
