"""Segmentation output: per-pixel class scores as a typed ClassMap."""

from __future__ import annotations

from typing import Sequence

from torch import nn

from cvgraph.block import Block, BlockArgs, BuildContext, expect_feature_map
from cvgraph.shapes import ClassMap, Shape

__all__ = ["ClassMapHead"]


class ClassMapHead(Block):
    """Mark a (N, K, H, W) feature map as per-pixel scores of K classes.

    The tensor passes through unchanged. Because the output is typed, ``cvgraph
    run`` writes a class mask for it, and blocks that expect a feature map
    reject it.
    """

    name = "classmap"
    description = "Per-pixel class scores: the K channels of the input are the scores of K classes."
    head = True

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: BlockArgs) -> ClassMap:
        x = expect_feature_map(inputs[0])
        return ClassMap(x.channels, x.height, x.width, x.stride)

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> nn.Module:
        return nn.Identity()
