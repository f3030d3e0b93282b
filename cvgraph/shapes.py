"""Typed tensor shapes that pass between the compiler's stages.

A shape describes one sample; the batch dimension N is implicit. Height and
width may be ``None`` when the spec leaves the input size free.

Glossary: C channels, H height, W width (pixels), K classes, B boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Union

__all__ = [
    "FeatureMap",
    "Vector",
    "Boxes",
    "ClassMap",
    "Tensor",
    "PoolIndices",
    "Shape",
    "describe",
]


@dataclass(frozen=True)
class FeatureMap:
    """A (N, C, H, W) feature map.

    Attributes:
        channels: C.
        height: H in pixels, or None when the input size is free.
        width: W in pixels, or None when the input size is free.
        stride: how many input pixels one step of this map covers, relative to
            the model input (1 for the input, 32 after a ResNet's ``layer4``).
    """

    channels: int
    height: int | None
    width: int | None
    stride: Fraction = Fraction(1)

    def __str__(self) -> str:
        h = "?" if self.height is None else self.height
        w = "?" if self.width is None else self.width
        return f"{self.channels}x{h}x{w}"

    def torch_size(self) -> tuple[int | None, ...]:
        return (self.channels, self.height, self.width)


@dataclass(frozen=True)
class Vector:
    """A (N, F) batch of feature vectors, such as logits."""

    features: int

    def __str__(self) -> str:
        return f"{self.features}"

    def torch_size(self) -> tuple[int | None, ...]:
        return (self.features,)


@dataclass(frozen=True)
class ClassMap:
    """A (N, K, H, W) map of per-pixel class scores (semantic segmentation)."""

    classes: int
    height: int | None
    width: int | None
    stride: Fraction = Fraction(1)

    def __str__(self) -> str:
        h = "?" if self.height is None else self.height
        w = "?" if self.width is None else self.width
        return f"classes={self.classes} {h}x{w}"

    def torch_size(self) -> tuple[int | None, ...]:
        return (self.classes, self.height, self.width)


@dataclass(frozen=True)
class Boxes:
    """A dynamic number of boxes per image, each with ``fields`` values.

    The count depends on the data (detections after NMS), so it has no size.
    ``fields`` names the columns, for example ``("x1", "y1", "x2", "y2", "score")``.
    """

    fields: tuple[str, ...] = ("x1", "y1", "x2", "y2")

    def __str__(self) -> str:
        return f"boxes[{', '.join(self.fields)}]"

    def torch_size(self) -> tuple[int | None, ...]:
        return (None, len(self.fields))


@dataclass(frozen=True)
class Tensor:
    """Any other per-sample tensor, with a fixed size (None for a free dimension)."""

    dims: tuple[int | None, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return "x".join("?" if d is None else str(d) for d in self.dims) or "scalar"

    def torch_size(self) -> tuple[int | None, ...]:
        return self.dims


@dataclass(frozen=True)
class PoolIndices(Tensor):
    """The (N, C, H, W) argmax indices of a max pooling, for max un-pooling.

    Each index points into the pooling input flattened over height and width,
    so the record keeps that input's size and stride. It is a :class:`Tensor`,
    not a :class:`FeatureMap`, so blocks that expect a feature map reject it.

    Attributes:
        source_height: H of the pooling input, or None when free.
        source_width: W of the pooling input, or None when free.
        source_stride: the stride of the pooling input relative to the model input.
    """

    source_height: int | None = None
    source_width: int | None = None
    source_stride: Fraction = Fraction(1)

    def __str__(self) -> str:
        return f"indices {Tensor.__str__(self)}"


Shape = Union[FeatureMap, Vector, ClassMap, Boxes, Tensor]


def describe(shape: object) -> str:
    """Name a shape, or a dict of shapes, for messages and summaries."""
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in shape.items()) + "}"
    kind = type(shape).__name__
    return f"{kind}({shape})"
