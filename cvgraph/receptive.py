"""Theoretical receptive fields of every node, from the blocks' kernel, stride and dilation.

Along one axis, a block with kernel k, stride s and dilation d maps an input
whose pixels are ``jump`` input pixels apart and see ``size`` input pixels to

    size_out = size_in + (k - 1) * d * jump_in
    jump_out = jump_in * s

A join (add, concat) depends on all of its inputs, so it takes the largest
size. Global pooling, flatten and fully connected layers see the whole input.
Transposed convolutions divide the jump by their stride.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .infer import ShapeReport
from .pipeline import Spec
from .shapes import ClassMap, FeatureMap

__all__ = ["ReceptiveField", "receptive_fields"]


@dataclass(frozen=True)
class ReceptiveField:
    """The input pixels one output pixel of a node depends on, per axis (height, width).

    Attributes:
        size: the receptive field in input pixels, or None when it is the whole input.
        jump: the distance in input pixels between neighbouring output pixels.
    """

    size: tuple[int, int] | None
    jump: tuple[Fraction, Fraction]

    def __str__(self) -> str:
        return "global" if self.size is None else f"{self.size[0]}x{self.size[1]}"


_INPUT = ReceptiveField((1, 1), (Fraction(1), Fraction(1)))


def _widest(fields: list[ReceptiveField]) -> ReceptiveField:
    if any(f.size is None for f in fields):
        return ReceptiveField(None, fields[0].jump)
    size = (max(f.size[0] for f in fields), max(f.size[1] for f in fields))  # type: ignore[index]
    jump = (max(f.jump[0] for f in fields), max(f.jump[1] for f in fields))
    return ReceptiveField(size, jump)


def receptive_fields(spec: Spec, report: ShapeReport) -> dict[str, ReceptiveField]:
    """Return the receptive field of every used node of an inferred spec."""
    fields: dict[str, ReceptiveField] = {name: _INPUT for name in spec.inputs}
    for path in report.graph.order:
        node = spec.node_index[path]
        block = spec.blocks[path]
        incoming = _widest([fields[ref.path] for ref in node.inputs]) if node.inputs else _INPUT
        output = report.nodes[path]
        first = next(iter(output.values())) if isinstance(output, dict) else output

        step = block.receptive_field(spec.args[path])
        if not isinstance(first, (FeatureMap, ClassMap)) or incoming.size is None or (step is not None and step.whole_input):
            fields[path] = ReceptiveField(None, incoming.jump)
            continue
        if step is None:
            fields[path] = incoming
            continue
        if step.transposed:
            jump = tuple(incoming.jump[i] / step.stride[i] for i in range(2))
            size = tuple(incoming.size[i] + int((step.kernel[i] - 1) * step.dilation[i] * jump[i]) for i in range(2))
        else:
            size = tuple(incoming.size[i] + int((step.kernel[i] - 1) * step.dilation[i] * incoming.jump[i]) for i in range(2))
            jump = tuple(incoming.jump[i] * step.stride[i] for i in range(2))
        fields[path] = ReceptiveField(size, jump)  # type: ignore[arg-type]
    return fields
