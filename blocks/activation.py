"""Element-wise activations: the output shape is the input shape."""

from __future__ import annotations

from typing import Sequence

from pydantic import Field
from torch import nn

from cvgraph.block import Block, BlockArgs, BuildContext
from cvgraph.errors import ShapeError
from cvgraph.shapes import ClassMap, FeatureMap, Shape, Vector

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "Sigmoid", "Tanh", "SiLU", "GELU", "Softmax", "Identity", "Dropout"]


class _ElementWise(Block):
    """A block whose output has the shape of its only input."""

    view_of_input = False
    saves_output = False

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: BlockArgs) -> Shape:
        return inputs[0]


class ReLU(_ElementWise):
    inplace = True
    saves_output = True
    name = "relu"
    description = "max(x, 0); in place when the input feeds no other node."

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.ReLU(inplace=ctx.inplace_ok)


class ReLU6(_ElementWise):
    inplace = True
    saves_output = True
    name = "relu6"
    description = "min(max(x, 0), 6)."

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.ReLU6(inplace=ctx.inplace_ok)


class LeakyReLUArgs(BlockArgs):
    negative_slope: float = 0.01


class LeakyReLU(_ElementWise):
    inplace = True
    saves_output = True
    name = "leaky_relu"
    description = "x for x >= 0, negative_slope * x otherwise."
    Args = LeakyReLUArgs

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: LeakyReLUArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return nn.LeakyReLU(args.negative_slope, inplace=ctx.inplace_ok)


class PReLUArgs(BlockArgs):
    per_channel: bool = Field(default=True, description="one learned slope per channel (else one in all)")
    init: float = Field(default=0.25, description="initial slope")


class PReLU(_ElementWise):
    name = "prelu"
    description = "Leaky ReLU with a learned slope, one per channel by default (torch.nn.PReLU)."
    Args = PReLUArgs

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: PReLUArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        x = inputs[0]
        if not args.per_channel:
            return nn.PReLU(1, init=args.init)
        if isinstance(x, FeatureMap):
            return nn.PReLU(x.channels, init=args.init)
        if isinstance(x, Vector):
            return nn.PReLU(x.features, init=args.init)
        raise ShapeError("prelu needs a feature map or a vector", found=str(x))

    @classmethod
    def num_params(cls, inputs: Sequence[Shape], args: PReLUArgs) -> int:
        x = inputs[0]
        if not args.per_channel:
            return 1
        return x.channels if isinstance(x, FeatureMap) else getattr(x, "features", 1)


class Sigmoid(_ElementWise):
    saves_output = True
    name = "sigmoid"
    description = "1 / (1 + exp(-x))."

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.Sigmoid()


class Tanh(_ElementWise):
    saves_output = True
    name = "tanh"
    description = "Hyperbolic tangent."

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.Tanh()


class SiLU(_ElementWise):
    name = "silu"
    description = "x * sigmoid(x), also called swish."

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.SiLU(inplace=ctx.inplace_ok)


class GELU(_ElementWise):
    name = "gelu"
    description = "Gaussian error linear unit."

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.GELU()


class Softmax(_ElementWise):
    saves_output = True
    name = "softmax"
    description = "Softmax over the channels (dim 1) of a feature map, or over a vector."

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: BlockArgs) -> Shape:
        if not isinstance(inputs[0], (FeatureMap, Vector, ClassMap)):
            raise ShapeError("softmax needs a feature map, a class map or a vector", found=str(inputs[0]))
        return inputs[0]

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.Softmax(dim=1)


class Identity(_ElementWise):
    view_of_input = True
    name = "identity"
    description = "Pass the input through unchanged."

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.Identity()


class DropoutArgs(BlockArgs):
    p: float = Field(default=0.5, ge=0, le=1, description="probability of zeroing an element in training")


class Dropout(_ElementWise):
    view_of_input = True
    name = "dropout"
    description = "Zero elements with probability p in training; identity in eval mode."
    Args = DropoutArgs

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: DropoutArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return nn.Dropout(args.p)
