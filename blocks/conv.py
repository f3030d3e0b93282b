"""Convolution blocks: conv2d and conv_transpose2d."""

from __future__ import annotations

from fractions import Fraction
from typing import Literal, Sequence

from pydantic import Field, model_validator
import torch
from torch import nn

from cvgraph.block import Block, BlockArgs, BuildContext, IntPair, ReceptiveFieldStep, expect_feature_map
from cvgraph.errors import ShapeError
from cvgraph.shapes import FeatureMap, Shape

from ._shape import conv_out, conv_transpose_out

__all__ = ["Conv2d", "ConvTranspose2d"]


def _check_in_channels(declared: int | None, x: FeatureMap) -> None:
    """Compare an optional ``in_channels`` written in the spec with the input's channels."""
    if declared is not None and declared != x.channels:
        raise ShapeError(
            f"in_channels={declared} does not match the input, which has {x.channels} channels",
            expected=f"FeatureMap with {declared} channels",
            found=f"FeatureMap({x})",
            hint="fix the node that feeds this one, or drop 'in_channels' to take it from the input",
        )


def _check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    if in_channels % groups or out_channels % groups:
        raise ShapeError(
            f"groups={groups} must divide both in_channels and out_channels",
            expected=f"channels divisible by {groups}",
            found=f"in_channels={in_channels}, out_channels={out_channels}",
            hint="change 'groups' or the channel counts",
        )


def _check_padding_mode(x: FeatureMap, args: "Conv2dArgs") -> None:
    """Check the padding that torch's reflect and circular modes can take: it mirrors or wraps the input."""
    if args.padding_mode not in ("reflect", "circular"):
        return
    for size, padding, axis in ((x.height, args.padding[0], "height"), (x.width, args.padding[1], "width")):
        # reflect needs padding < size, circular padding <= size (torch 2.x F.pad).
        too_large = padding >= size if args.padding_mode == "reflect" else padding > size
        if size is not None and too_large:
            raise ShapeError(
                f"padding {padding} is too large for padding_mode '{args.padding_mode}' on input {axis} {size}",
                expected=f"padding {'<' if args.padding_mode == 'reflect' else '<='} {axis} {size}",
                found=f"padding {padding}",
                hint="use a larger input, less padding, or padding_mode 'zeros' or 'replicate'",
            )


class Conv2dArgs(BlockArgs):
    in_channels: int | None = Field(default=None, ge=1, description="C_in, checked against the input; inferred when left out")
    out_channels: int = Field(ge=1, description="C_out, the number of filters")
    kernel_size: IntPair = Field(description="kernel height and width, an integer or [kh, kw]")
    stride: IntPair = Field(default=(1, 1), description="step in pixels")
    padding: IntPair = Field(default=(0, 0), description="zero padding in pixels on each side")
    dilation: IntPair = Field(default=(1, 1), description="spacing between kernel elements")
    groups: int = Field(default=1, ge=1, description="groups of channels convolved separately")
    bias: bool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"

    @model_validator(mode="after")
    def _positive(self) -> "Conv2dArgs":
        for name in ("kernel_size", "stride", "dilation"):
            if min(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, found {getattr(self, name)}")
        if min(self.padding) < 0:
            raise ValueError(f"padding must be >= 0, found {self.padding}")
        return self


class Conv2d(Block):
    """2-D convolution; ``in_channels`` comes from the input shape."""

    view_of_input = False
    saves_output = False

    name = "conv2d"
    description = "2-D convolution (torch.nn.Conv2d); in_channels is inferred."
    Args = Conv2dArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: Conv2dArgs) -> FeatureMap:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        _check_in_channels(args.in_channels, x)
        _check_groups(x.channels, args.out_channels, args.groups)
        _check_padding_mode(x, args)
        height = conv_out(x.height, args.kernel_size[0], args.stride[0], args.padding[0], args.dilation[0], "height")
        width = conv_out(x.width, args.kernel_size[1], args.stride[1], args.padding[1], args.dilation[1], "width")
        return FeatureMap(args.out_channels, height, width, x.stride * args.stride[0])

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: Conv2dArgs, ctx: BuildContext) -> nn.Conv2d:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        return nn.Conv2d(
            x.channels,
            args.out_channels,
            args.kernel_size,
            stride=args.stride,
            padding=args.padding,
            dilation=args.dilation,
            groups=args.groups,
            bias=args.bias,
            padding_mode=args.padding_mode,
        )

    @classmethod
    def macs(cls, inputs: Sequence[Shape], output: FeatureMap, args: Conv2dArgs) -> int:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        if output.height is None or output.width is None:
            return 0
        per_pixel = (x.channels // args.groups) * args.kernel_size[0] * args.kernel_size[1]
        return output.channels * output.height * output.width * per_pixel

    @classmethod
    def num_params(cls, inputs: Sequence[Shape], args: Conv2dArgs) -> int:
        x = expect_feature_map(inputs[0])
        weights = args.out_channels * (x.channels // args.groups) * args.kernel_size[0] * args.kernel_size[1]
        return weights + (args.out_channels if args.bias else 0)

    @classmethod
    def receptive_field(cls, args: Conv2dArgs) -> ReceptiveFieldStep:  # type: ignore[override]
        return ReceptiveFieldStep(args.kernel_size, args.stride, args.dilation, args.padding)


class ConvTranspose2dArgs(BlockArgs):
    in_channels: int | None = Field(default=None, ge=1, description="C_in, checked against the input; inferred when left out")
    out_channels: int = Field(ge=1)
    kernel_size: IntPair
    stride: IntPair = (1, 1)
    padding: IntPair = (0, 0)
    output_padding: IntPair = Field(default=(0, 0), description="extra pixels on the bottom and right of the output")
    dilation: IntPair = (1, 1)
    groups: int = Field(default=1, ge=1)
    bias: bool = True

    @model_validator(mode="after")
    def _ranges(self) -> "ConvTranspose2dArgs":
        for name in ("kernel_size", "stride", "dilation"):
            if min(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, found {getattr(self, name)}")
        for axis in range(2):
            limit = max(self.stride[axis], self.dilation[axis])
            if not 0 <= self.output_padding[axis] < limit:
                raise ValueError(
                    f"output_padding {self.output_padding} must be >= 0 and smaller than stride or dilation "
                    f"(here {limit} along axis {axis})"
                )
        if min(self.padding) < 0:
            raise ValueError(f"padding must be >= 0, found {self.padding}")
        return self


class _SizedConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution whose output takes the height and width of a second tensor.

    The state_dict keys are those of ``nn.ConvTranspose2d`` (``weight``, ``bias``).
    """

    def forward(self, input: torch.Tensor, like: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(input, output_size=[int(like.shape[-2]), int(like.shape[-1])])


def _matched_size(
    size: int | None, target: int | None, args: "ConvTranspose2dArgs", axis_index: int, axis: str
) -> int | None:
    """Return ``target`` if a transposed convolution can reach it from ``size``, else raise."""
    base = conv_transpose_out(
        size, args.kernel_size[axis_index], args.stride[axis_index], args.padding[axis_index], 0, args.dilation[axis_index], axis
    )
    if base is None or target is None:
        return target
    largest = base + args.stride[axis_index] - 1
    if not base <= target <= largest:
        raise ShapeError(
            f"transposed convolution cannot reach the {axis} of input 1",
            expected=f"{axis} from {base} to {largest} (input 0 {axis} {size}, stride {args.stride[axis_index]})",
            found=f"{axis} {target}",
            hint="match to the node whose size this layer mirrors (the input of the matching strided conv2d)",
        )
    return target


class ConvTranspose2d(Block):
    """2-D transposed convolution (learned up-sampling).

    With one input, the output size follows from the arguments and
    ``output_padding``. With a second input, the output takes that input's
    height and width (only its size is read), as ``output_size`` in
    ``torch.nn.ConvTranspose2d.forward``. This mirrors a strided convolution
    exactly, odd sizes included.
    """

    view_of_input = False
    saves_output = False

    name = "conv_transpose2d"
    description = (
        "2-D transposed convolution (torch.nn.ConvTranspose2d); in_channels is inferred; "
        "an optional second input sets the output height and width."
    )
    Args = ConvTranspose2dArgs
    arity = (1, 2)

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: ConvTranspose2dArgs) -> FeatureMap:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        _check_in_channels(args.in_channels, x)
        _check_groups(x.channels, args.out_channels, args.groups)
        stride = x.stride / Fraction(args.stride[0])
        if len(inputs) == 2:
            like = expect_feature_map(inputs[1], "input 1 (the size to match)")
            if args.output_padding != (0, 0):
                raise ShapeError(
                    "output_padding cannot be combined with a second input that sets the output size",
                    expected="output_padding 0",
                    found=f"output_padding {list(args.output_padding)}",
                    hint="remove output_padding, or remove the second input",
                )
            height = _matched_size(x.height, like.height, args, 0, "height")
            width = _matched_size(x.width, like.width, args, 1, "width")
            return FeatureMap(args.out_channels, height, width, stride)
        sizes = [
            conv_transpose_out(
                size, args.kernel_size[i], args.stride[i], args.padding[i], args.output_padding[i], args.dilation[i], axis
            )
            for i, (size, axis) in enumerate(((x.height, "height"), (x.width, "width")))
        ]
        return FeatureMap(args.out_channels, sizes[0], sizes[1], stride)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: ConvTranspose2dArgs, ctx: BuildContext) -> nn.ConvTranspose2d:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        module_class = _SizedConvTranspose2d if len(inputs) == 2 else nn.ConvTranspose2d
        return module_class(
            x.channels,
            args.out_channels,
            args.kernel_size,
            stride=args.stride,
            padding=args.padding,
            output_padding=args.output_padding,
            groups=args.groups,
            bias=args.bias,
            dilation=args.dilation,
        )

    @classmethod
    def macs(cls, inputs: Sequence[Shape], output: FeatureMap, args: ConvTranspose2dArgs) -> int:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        if x.height is None or x.width is None:
            return 0
        per_pixel = (args.out_channels // args.groups) * args.kernel_size[0] * args.kernel_size[1]
        return x.channels * x.height * x.width * per_pixel

    @classmethod
    def receptive_field(cls, args: ConvTranspose2dArgs) -> ReceptiveFieldStep:  # type: ignore[override]
        return ReceptiveFieldStep(args.kernel_size, args.stride, args.dilation, args.padding, transposed=True)

    @classmethod
    def num_params(cls, inputs: Sequence[Shape], args: ConvTranspose2dArgs) -> int:
        x = expect_feature_map(inputs[0])
        weights = x.channels * (args.out_channels // args.groups) * args.kernel_size[0] * args.kernel_size[1]
        return weights + (args.out_channels if args.bias else 0)
