"""Shape inference: a typed shape for every node, computed without torch."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from ._block_calls import BLOCK_BUG_HINT, calling_block
from ._gc import without_gc
from .errors import Location, ShapeError, SpecError
from .expand import Ref
from .graph import SpecGraph, build_graph
from .pipeline import Spec
from .shapes import Boxes, ClassMap, FeatureMap, Shape, Tensor, Vector

__all__ = [
    "ShapeReport",
    "infer_shapes",
    "parse_input_size",
    "valid_sizes",
    "describe_valid_sizes",
]

_SHAPE_TYPES = (FeatureMap, Vector, ClassMap, Boxes, Tensor)


@dataclass
class ShapeReport:
    """The inferred shapes of a spec for given input shapes.

    Attributes:
        inputs: each model input's shape.
        nodes: each used node's output shape (a dict for multi-output blocks).
        outputs: each model output's shape.
        graph: the checked graph the shapes were inferred on.
    """

    inputs: dict[str, Shape]
    nodes: dict[str, Any]
    outputs: dict[str, Shape]
    graph: SpecGraph

    def shape_of(self, ref: Ref) -> Shape:
        if ref.path in self.inputs:
            return self.inputs[ref.path]
        value = self.nodes[ref.path]
        return value[ref.port] if ref.port is not None else value


def parse_input_size(text: str | Sequence[int | None] | FeatureMap) -> FeatureMap:
    """Parse ``1x3x224x224``, ``3x224x224`` or ``(3, 224, 224)`` into a feature map.

    The batch size, if given, is dropped: shapes describe one sample.

    Raises:
        SpecError: when the text is not 3 or 4 positive integers.
    """
    if isinstance(text, FeatureMap):
        return text
    if isinstance(text, str):
        parts: list[Any] = re.split(r"[x,\s]+", text.strip().lower())
        try:
            dims = [None if p in ("?", "") else int(p) for p in parts]
        except ValueError:
            raise SpecError(
                f"invalid input size {text!r}",
                expected="NxCxHxW or CxHxW, such as 1x3x224x224",
                found=text,
            ) from None
    else:
        dims = list(text)
    if len(dims) == 4:
        dims = dims[1:]
    if len(dims) != 3 or any(d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1) for d in dims):
        raise SpecError(
            f"invalid input size {text!r}",
            expected="NxCxHxW or CxHxW with positive integers, such as 1x3x224x224",
            found=str(text),
        )
    if dims[0] is None:
        raise SpecError(f"invalid input size {text!r}: the channel count must be given", found=str(text))
    return FeatureMap(dims[0], dims[1], dims[2])


def _input_shapes(spec: Spec, given: Mapping[str, Any] | None) -> dict[str, Shape]:
    given = dict(given or {})
    for name in given:
        if name not in spec.inputs:
            raise SpecError(
                f"the spec has no input named '{name}'",
                location=spec.location(name),
                expected=f"one of: {', '.join(spec.inputs)}",
                found=name,
            )
    shapes: dict[str, Shape] = {}
    for name, declared in spec.inputs.items():
        if name in given:
            shape = parse_input_size(given[name])
            if shape.channels != declared.channels:
                raise ShapeError(
                    f"input '{name}' has {shape.channels} channels, but the spec declares {declared.channels}",
                    location=Location(spec.file),
                    expected=f"{declared.channels} channels",
                    found=str(shape),
                )
            for axis in ("height", "width"):
                fixed = getattr(declared, axis)
                if fixed is not None and getattr(shape, axis) not in (None, fixed):
                    raise ShapeError(
                        f"input '{name}' must have {axis} {fixed}",
                        location=Location(spec.file),
                        expected=f"{axis} {fixed}",
                        found=str(shape),
                    )
            shapes[name] = shape
        else:
            shapes[name] = FeatureMap(declared.channels, declared.height, declared.width)
    return shapes


def _check_output(value: Any, block: Any, path: str, spec: Spec) -> Any:
    if block.outputs is None:
        if isinstance(value, _SHAPE_TYPES):
            return value
    elif isinstance(value, Mapping) and tuple(value) == tuple(block.outputs):
        if all(isinstance(v, _SHAPE_TYPES) for v in value.values()):
            return dict(value)
    raise SpecError(
        f"block '{block.name}' returned an invalid shape from its shape function",
        location=spec.location(path),
        node=path,
        expected="a Shape" if block.outputs is None else f"a dict of Shapes with keys {block.outputs}",
        found=repr(value)[:100],
        hint=BLOCK_BUG_HINT,
    )


def _run(spec: Spec, graph: SpecGraph, inputs: dict[str, Shape]) -> ShapeReport:
    report = ShapeReport(inputs, {}, {}, graph)
    for path in graph.order:
        node = spec.node_index[path]
        block = spec.blocks[path]
        in_shapes = [report.shape_of(ref) for ref in node.inputs]
        with calling_block(block, "failed in its shape function", location=node.location, node=path, inputs=in_shapes):
            value = block.infer(in_shapes, spec.args[path])
        report.nodes[path] = _check_output(value, block, path, spec)
    report.outputs = {name: report.shape_of(ref) for name, ref in spec.outputs.items()}
    return report


@without_gc
def infer_shapes(
    spec: Spec, input_shapes: Mapping[str, Any] | None = None, *, graph: SpecGraph | None = None
) -> ShapeReport:
    """Infer the shape of every node.

    Args:
        spec: a loaded spec.
        input_shapes: input name to ``"1x3x224x224"``, ``(3, 224, 224)`` or a
            FeatureMap; inputs left out take the spec's declared size, which
            may leave height and width free (None).
        graph: the spec's checked graph, when already built.

    Raises:
        SpecError: at the first node whose inputs do not fit, with both shapes
            and, when the input size is the cause, the nearest valid sizes.
    """
    graph = graph or build_graph(spec)
    inputs = _input_shapes(spec, input_shapes)
    try:
        return _run(spec, graph, inputs)
    except ShapeError as error:
        hint = _size_hint(spec, graph, inputs)
        if hint is None:
            raise
        raise ShapeError(
            error.message,
            location=error.location,
            node=error.node,
            expected=error.expected,
            found=error.found,
            hint=hint if not error.hint else f"{hint}; {error.hint}",
        ) from None


def _fits(spec: Spec, graph: SpecGraph, inputs: dict[str, Shape]) -> bool:
    try:
        _run(spec, graph, inputs)
    except SpecError:
        return False
    return True


def _with_size(inputs: dict[str, Shape], size: int) -> dict[str, Shape]:
    return {
        name: replace(shape, height=size, width=size) if isinstance(shape, FeatureMap) else shape
        for name, shape in inputs.items()
    }


_HINT_BUDGET = 1_000_000
"""Node inferences the nearest-size search may spend, so a huge graph does not stall an error."""


def _size_hint(spec: Spec, graph: SpecGraph, inputs: dict[str, Shape], reach: int = 64) -> str | None:
    reach = max(2, min(reach, _HINT_BUDGET // max(1, 2 * len(graph.order))))
    # Each distinct size is tried as a square input, and the message names the
    # axes that have it ("input width 525"), so a 350x525 input reads naturally.
    axes_of: dict[int, list[str]] = {}
    for shape in inputs.values():
        if isinstance(shape, FeatureMap):
            for axis in ("height", "width"):
                size = getattr(shape, axis)
                if size and axis not in axes_of.setdefault(size, []):
                    axes_of[size].append(axis)
    if not axes_of:
        return None
    parts = []
    for size in sorted(axes_of):
        if _fits(spec, graph, _with_size(inputs, size)):
            continue
        below = next((s for s in range(size - 1, max(size - reach, 0), -1) if _fits(spec, graph, _with_size(inputs, s))), None)
        above = next((s for s in range(size + 1, size + reach) if _fits(spec, graph, _with_size(inputs, s))), None)
        found = [str(s) for s in (below, above) if s is not None]
        if found:
            axes = " and ".join(axes_of[size])
            parts.append(f"input {axes} {size} does not fit; nearest valid sizes: {', '.join(found)}")
    return "; ".join(parts) or None


def valid_sizes(spec: Spec, max_size: int = 512, *, graph: SpecGraph | None = None) -> list[int]:
    """Return the square input sizes from 1 to ``max_size`` for which every shape fits.

    Inputs with a fixed height and width in the spec keep them.
    """
    graph = graph or build_graph(spec, warn_unused=False)
    inputs = _input_shapes(spec, None)
    free = {n: s for n, s in inputs.items() if isinstance(s, FeatureMap) and s.height is None}
    if not free:
        return []
    return [size for size in range(1, max_size + 1) if _fits(spec, graph, {**inputs, **_with_size(free, size)})]


def describe_valid_sizes(sizes: Sequence[int], max_size: int = 512) -> str:
    """Summarize valid sizes: 'any size from 32', 'multiples of 16 from 16', or a list."""
    if not sizes:
        return f"no input size up to {max_size} fits"
    first = sizes[0]
    if list(sizes) == list(range(first, max_size + 1)):
        return f"any size from {first}"
    if len(sizes) >= 2:
        step = sizes[1] - sizes[0]
        if list(sizes) == list(range(first, max_size + 1, step))[: len(sizes)] and sizes[-1] + step > max_size:
            if first % step == 0:
                return f"multiples of {step} from {first} ({first}, {first + step}, {first + 2 * step}, ...)"
            return f"every {step} pixels from {first} ({first}, {first + step}, {first + 2 * step}, ...)"
    shown = ", ".join(map(str, sizes[:12]))
    return f"{shown}{', ...' if len(sizes) > 12 else ''}"
