"""Task heads: blocks that turn a feature map into task outputs.

Glossary: N batch, C channels, H height, W width, K classes.
"""

from __future__ import annotations

from typing import Sequence

import torch
from pydantic import Field
from torch import nn

from cvgraph import Block, BlockArgs, BuildContext, FeatureMap, Shape, ShapeError, Vector

__all__ = ["ClassificationHead", "Classifier"]


class ClassifierArgs(BlockArgs):
    num_classes: int = Field(ge=1, description="K, the number of classes")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="probability of zeroing a pooled feature in training")
    bias: bool = True


class Classifier(nn.Module):
    """Global average pooling, dropout and a linear layer: (N, C, H, W) -> (N, K) logits."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3)) if x.dim() == 4 else x
        return self.fc(self.dropout(pooled))


class ClassificationHead(Block):
    """Image classification head; a vector input skips the pooling."""

    name = "classifier"
    description = "Classification head: global average pooling, dropout, then a linear layer to num_classes logits."
    Args = ClassifierArgs
    head = True

    @classmethod
    def _in_channels(cls, x: Shape) -> int:
        if isinstance(x, FeatureMap):
            return x.channels
        if isinstance(x, Vector):
            return x.features
        raise ShapeError(
            "classifier needs a feature map or a vector",
            expected="FeatureMap (N, C, H, W) or Vector (N, C)",
            found=f"{type(x).__name__}({x})",
        )

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: ClassifierArgs) -> Vector:  # type: ignore[override]
        cls._in_channels(inputs[0])
        return Vector(args.num_classes)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: ClassifierArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        return Classifier(cls._in_channels(inputs[0]), args.num_classes, args.dropout, args.bias)

    @classmethod
    def macs(cls, inputs: Sequence[Shape], output: Vector, args: ClassifierArgs) -> int:  # type: ignore[override]
        return cls._in_channels(inputs[0]) * args.num_classes

    @classmethod
    def num_params(cls, inputs: Sequence[Shape], args: ClassifierArgs) -> int:
        in_channels = cls._in_channels(inputs[0])
        return in_channels * args.num_classes + (args.num_classes if args.bias else 0)
