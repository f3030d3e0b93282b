"""Joins of several inputs: element-wise sum and channel concatenation."""

from __future__ import annotations

from typing import Sequence

import torch
from pydantic import Field
from torch import nn

from cvgraph.block import Block, BlockArgs, BuildContext, expect_feature_map
from cvgraph.errors import ShapeError
from cvgraph.shapes import FeatureMap, Shape, describe

__all__ = ["Add", "Concat"]


class _Sum(nn.Module):
    """Sum of the inputs; adds into the first one when the compiler allows it."""

    def __init__(self, inplace: bool) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, first: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:
        out = first
        for index, other in enumerate(others):
            out = out.add_(other) if (self.inplace or index > 0) else out + other
        return out

    def extra_repr(self) -> str:
        return f"inplace={self.inplace}"


class Add(Block):
    """Element-wise sum of inputs of one shape (residual connections)."""

    inplace = True
    view_of_input = False
    saves_output = False

    name = "add"
    description = "Element-wise sum of two or more inputs of the same shape."
    arity = (2, None)

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: BlockArgs) -> Shape:
        first = inputs[0]
        for index, other in enumerate(inputs[1:], start=1):
            same = (
                type(first) is type(other)
                and first.torch_size() == other.torch_size()
                if not isinstance(first, FeatureMap) or not isinstance(other, FeatureMap)
                else first.channels == other.channels
                and _size_matches(first.height, other.height)
                and _size_matches(first.width, other.width)
            )
            _check_strides(first, other, index, "add")
            if not same:
                raise ShapeError(
                    f"cannot add inputs of different shapes (input 0 and input {index})",
                    expected=describe(first),
                    found=describe(other),
                    hint="project one input with a 1x1 conv2d, or resize it, so that channels and sizes match",
                )
        return first

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return _Sum(inplace=ctx.inplace_ok)


def _size_matches(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


def _check_strides(first: Shape, other: Shape, index: int, what: str) -> None:
    """With free input sizes, inputs of different strides cannot join at every size."""
    if not (isinstance(first, FeatureMap) and isinstance(other, FeatureMap)):
        return
    free = None in (first.height, first.width, other.height, other.width)
    if free and first.stride != other.stride:
        raise ShapeError(
            f"cannot {what} feature maps of different strides (input 0 and input {index})",
            expected=f"stride {first.stride} (relative to the input)",
            found=f"stride {other.stride}",
            hint="resample one input (pooling, a strided conv2d, up-sampling) so both have the same stride",
        )


class ConcatArgs(BlockArgs):
    dim: int = Field(default=1, ge=1, le=3, description="1: channels")


class _Concat(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat(inputs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Concat(Block):
    """Concatenation of feature maps along the channels."""

    view_of_input = False
    saves_output = False

    name = "concat"
    description = "Concatenate feature maps of the same height and width along the channels."
    Args = ConcatArgs
    arity = (1, None)

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: ConcatArgs) -> FeatureMap:  # type: ignore[override]
        maps = [expect_feature_map(x, f"input {i}") for i, x in enumerate(inputs)]
        first = maps[0]
        if args.dim != 1:
            raise ShapeError("concat supports dim 1 (channels) only for feature maps", found=f"dim {args.dim}")
        for index, other in enumerate(maps[1:], start=1):
            _check_strides(first, other, index, "concatenate")
            if not (_size_matches(first.height, other.height) and _size_matches(first.width, other.width)):
                raise ShapeError(
                    f"cannot concatenate feature maps of different sizes (input 0 and input {index})",
                    expected=f"height x width {first.height}x{first.width}",
                    found=f"{other.height}x{other.width}",
                    hint="resize, crop or pad one input to the size of the other",
                )
        return FeatureMap(sum(m.channels for m in maps), first.height, first.width, first.stride)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: ConcatArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return _Concat(args.dim)
