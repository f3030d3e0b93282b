"""Joins of several inputs: element-wise sum, channel concatenation and weighted fusion.

Every join takes ``align`` (see ``_align.py``). With the default ``none`` the
inputs must have one height and width, so a spec whose input size does not
divide evenly fails at the join with the nearest valid sizes. The policies
``pad``, ``crop`` and ``resize`` join them anyway by a declared rule.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from pydantic import Field
from torch import nn

from cvgraph.block import Block, BuildContext, expect_feature_map
from cvgraph.errors import ShapeError
from cvgraph.shapes import FeatureMap, Shape, describe

from ._align import AlignArgs, align_tensors, aligned_size

__all__ = ["Add", "Concat", "WeightedFusion"]


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


def _size_text(shape: FeatureMap) -> str:
    return f"height x width {shape.height}x{shape.width}"


def _join_maps(
    maps: Sequence[FeatureMap], args: AlignArgs, what: str, channels: int, show: Callable[[FeatureMap], str] = _size_text
) -> FeatureMap:
    """Return the joined feature map of ``channels`` channels, or raise if the sizes do not join.

    The stride check applies to ``align: none`` only, because the other
    policies join maps of any size by their rule. ``show`` renders the
    expected and found shapes of the error.
    """
    first = maps[0]
    if args.align == "none":
        for index, other in enumerate(maps[1:], start=1):
            _check_strides(first, other, index, what)
            if not (_size_matches(first.height, other.height) and _size_matches(first.width, other.width)):
                raise ShapeError(
                    f"cannot {what} feature maps of different sizes (input 0 and input {index})",
                    expected=show(first),
                    found=show(other),
                    hint="set 'align' to pad, crop or resize, or change the input size",
                )
    height = aligned_size([m.height for m in maps], args.align)
    width = aligned_size([m.width for m in maps], args.align)
    return FeatureMap(channels, height, width, first.stride)


class _Sum(nn.Module):
    """Sum of the inputs; adds into the first one when the compiler allows it."""

    def __init__(self, inplace: bool, align: str = "none", resize_mode: str = "bilinear") -> None:
        super().__init__()
        self.inplace = inplace
        self.align = align
        self.resize_mode = resize_mode

    def forward(self, first: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:
        if self.align != "none":
            first, *rest = align_tensors((first, *others), self.align, self.resize_mode)  # type: ignore[arg-type]
            return torch.stack([first, *rest]).sum(dim=0)
        out = first
        for index, other in enumerate(others):
            out = out.add_(other) if (self.inplace or index > 0) else out + other
        return out

    def extra_repr(self) -> str:
        return f"inplace={self.inplace}, align={self.align}"


class Add(Block):
    """Element-wise sum of inputs of one shape (residual connections, FPN top-down)."""

    inplace = True
    view_of_input = False
    saves_output = False

    name = "add"
    description = "Element-wise sum of two or more inputs of the same shape; 'align' joins different sizes."
    Args = AlignArgs
    arity = (2, None)

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: AlignArgs) -> Shape:  # type: ignore[override]
        first = inputs[0]
        if not all(isinstance(x, FeatureMap) for x in inputs):
            for index, other in enumerate(inputs[1:], start=1):
                if type(first) is not type(other) or first.torch_size() != other.torch_size():
                    raise ShapeError(
                        f"cannot add inputs of different shapes (input 0 and input {index})",
                        expected=describe(first),
                        found=describe(other),
                        hint="project one input with a 1x1 conv2d, or resize it, so that channels and sizes match",
                    )
            return first

        maps = [expect_feature_map(x) for x in inputs]
        for index, other in enumerate(maps[1:], start=1):
            if other.channels != maps[0].channels:
                raise ShapeError(
                    f"cannot add feature maps with different channels (input 0 and input {index})",
                    expected=describe(maps[0]),
                    found=describe(other),
                    hint="project one input with a 1x1 conv2d so that the channels match",
                )
        return _join_maps(maps, args, "add", maps[0].channels, describe)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: AlignArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return _Sum(inplace=ctx.inplace_ok, align=args.align, resize_mode=args.resize_mode)


class ConcatArgs(AlignArgs):
    dim: int = Field(default=1, ge=1, le=3, description="1: channels")


class _Concat(nn.Module):
    def __init__(self, dim: int, align: str = "none", resize_mode: str = "bilinear") -> None:
        super().__init__()
        self.dim = dim
        self.align = align
        self.resize_mode = resize_mode

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat(align_tensors(inputs, self.align, self.resize_mode), dim=self.dim)  # type: ignore[arg-type]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, align={self.align}"


class Concat(Block):
    """Concatenation of feature maps along the channels."""

    view_of_input = False
    saves_output = False

    name = "concat"
    description = "Concatenate feature maps along the channels; 'align' joins different heights and widths."
    Args = ConcatArgs
    arity = (1, None)

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: ConcatArgs) -> FeatureMap:  # type: ignore[override]
        maps = [expect_feature_map(x, f"input {i}") for i, x in enumerate(inputs)]
        if args.dim != 1:
            raise ShapeError("concat supports dim 1 (channels) only for feature maps", found=f"dim {args.dim}")
        return _join_maps(maps, args, "concatenate", sum(m.channels for m in maps))

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: ConcatArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return _Concat(args.dim, args.align, args.resize_mode)


class WeightedFusionArgs(AlignArgs):
    epsilon: float = Field(default=1e-4, gt=0, description="added to the sum of the weights before dividing")


class FastNormalizedFusion(nn.Module):
    """Weighted sum with learned non-negative weights that sum to about one.

    ``out = sum_i relu(w_i) * x_i / (epsilon + sum_j relu(w_j))``, the "fast
    normalized fusion" of EfficientDet (Tan et al., 2020), which avoids the
    softmax of a plain weighted average.

    Attributes:
        weight: (num_inputs,) raw fusion weights, initialized to one.
    """

    def __init__(self, num_inputs: int, epsilon: float, align: str = "none", resize_mode: str = "bilinear") -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_inputs))
        self.epsilon = epsilon
        self.align = align
        self.resize_mode = resize_mode

    def normalized_weights(self) -> torch.Tensor:
        """Return the (num_inputs,) non-negative weights actually applied."""
        weight = torch.relu(self.weight)
        return weight / (weight.sum() + self.epsilon)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        aligned = align_tensors(inputs, self.align, self.resize_mode)  # type: ignore[arg-type]
        weight = self.normalized_weights()
        out = aligned[0] * weight[0]
        for index in range(1, len(aligned)):
            out = out + aligned[index] * weight[index]
        return out

    def extra_repr(self) -> str:
        return f"num_inputs={self.weight.numel()}, epsilon={self.epsilon}, align={self.align}"


class WeightedFusion(Block):
    """Fast normalized fusion of feature maps with the same channels (BiFPN nodes)."""

    view_of_input = False
    saves_output = False

    name = "weighted_fusion"
    description = "Sum of feature maps with learned non-negative weights normalized to sum to one (EfficientDet BiFPN)."
    Args = WeightedFusionArgs
    arity = (2, None)

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: WeightedFusionArgs) -> FeatureMap:  # type: ignore[override]
        maps = [expect_feature_map(x, f"input {i}") for i, x in enumerate(inputs)]
        for index, other in enumerate(maps[1:], start=1):
            if other.channels != maps[0].channels:
                raise ShapeError(
                    f"cannot fuse feature maps with different channels (input 0 and input {index})",
                    expected=f"{maps[0].channels} channels",
                    found=f"{other.channels} channels",
                    hint="project the inputs to one channel count with 1x1 conv2d nodes",
                )
        return _join_maps(maps, args, "fuse", maps[0].channels)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: WeightedFusionArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return FastNormalizedFusion(len(inputs), args.epsilon, args.align, args.resize_mode)

    @classmethod
    def num_params(cls, inputs: Sequence[Shape], args: WeightedFusionArgs) -> int:
        return len(inputs)

