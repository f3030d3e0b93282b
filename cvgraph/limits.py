"""Budgets on what a spec may ask for, checked before any real tensor is allocated.

A spec is untrusted data: ``out_channels: 1000000000`` is one short line but
requests billions of weights. The compiler estimates the parameters and the
activation memory of a spec from its inferred shapes and rejects it, with the
estimate and the budget in the message, before it builds a module.

* Parameters: a block's ``num_params(inputs, args)`` where it has one;
  otherwise the node's module is built on the meta device (no storage) and
  its parameters are counted.
* Activations: the elements of every node's inferred output shape, times
  the batch size and the bytes per element. Outputs whose height or width is
  free (None) cannot be counted; they are listed in the estimate.

The budget comes from :class:`ResourceLimits`, whose defaults can be changed
with the environment variables ``CVGRAPH_MAX_PARAMS`` and
``CVGRAPH_MAX_ACTIVATION_BYTES``, or per call (``cvgraph.build(...,
limits=...)``, ``cvgraph validate --max-params``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch

from .block import Block, BlockArgs, BuildContext
from .errors import Location, ResourceError, SpecError
from .expand import ExpandLimits
from .loader import LoadLimits
from .shapes import Shape, describe

__all__ = [
    "ResourceLimits",
    "Limits",
    "ResourceEstimate",
    "estimate_resources",
    "check_resources",
    "parse_size",
    "MAX_PARAMS_ENV",
    "MAX_ACTIVATION_BYTES_ENV",
]

MAX_PARAMS_ENV = "CVGRAPH_MAX_PARAMS"
MAX_ACTIVATION_BYTES_ENV = "CVGRAPH_MAX_ACTIVATION_BYTES"

_DEFAULT_MAX_PARAMS = 1_000_000_000
_DEFAULT_MAX_ACTIVATION_BYTES = 16 * 2**30
_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str, what: str) -> int:
    """Parse a positive integer with an optional suffix: ``5000000``, ``2G``, ``512MiB``.

    Decimal suffixes (k, M, G, T) are powers of 1000; binary ones (KiB, MiB,
    GiB, TiB) powers of 1024.

    Raises:
        SpecError: naming ``what`` when the text is not such a number.
    """
    cleaned = text.strip().lower().replace("_", "")
    digits = cleaned.rstrip("kmgtib")
    suffix = cleaned[len(digits):]
    if not digits.isdigit() or suffix not in _SUFFIXES or len(digits) > 30:
        raise SpecError(
            f"invalid {what} {text!r}",
            expected="a positive integer, optionally with a suffix such as 2G or 512MiB",
            found=text,
        )
    value = int(digits) * _SUFFIXES[suffix]
    if value < 1:
        raise SpecError(f"invalid {what} {text!r}: it must be at least 1", found=text)
    return value


def _from_env(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    return parse_size(text, f"value of the environment variable {name}")


@dataclass(frozen=True)
class ResourceLimits:
    """The budget a spec is checked against before its modules are built.

    Attributes:
        max_params: parameters of the whole model (1e9 float32 parameters
            take 4 GB).
        max_activation_bytes: bytes of all node outputs of one forward pass,
            for ``batch_size`` samples of ``bytes_per_element`` bytes.
        batch_size: the batch the activation estimate is made for.
        bytes_per_element: 4 for float32, 2 for float16 and bfloat16.
    """

    max_params: int = _DEFAULT_MAX_PARAMS
    max_activation_bytes: int = _DEFAULT_MAX_ACTIVATION_BYTES
    batch_size: int = 1
    bytes_per_element: int = 4

    @classmethod
    def from_env(cls, **overrides: Any) -> "ResourceLimits":
        """Return the defaults, changed by ``CVGRAPH_MAX_PARAMS`` and ``CVGRAPH_MAX_ACTIVATION_BYTES``.

        Raises:
            SpecError: when a variable is set to something that is not a size.
        """
        values: dict[str, Any] = {
            "max_params": _from_env(MAX_PARAMS_ENV, _DEFAULT_MAX_PARAMS),
            "max_activation_bytes": _from_env(MAX_ACTIVATION_BYTES_ENV, _DEFAULT_MAX_ACTIVATION_BYTES),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


@dataclass(frozen=True)
class Limits:
    """Every bound cvgraph applies to an untrusted spec, in one value.

    Attributes:
        load: bounds on the spec text (size, nesting, string length).
        expand: bounds on the expanded graph (node count, repeat count).
        resources: the parameter and activation budget; by default read
            from the environment when the ``Limits`` is created.
    """

    load: LoadLimits = LoadLimits()
    expand: ExpandLimits = ExpandLimits()
    resources: ResourceLimits = field(default_factory=ResourceLimits.from_env)


@dataclass(frozen=True)
class ResourceEstimate:
    """The estimated size of a model, computed from shapes alone.

    Attributes:
        params: parameters of the whole model.
        params_per_node: parameters by node path.
        activation_elements: elements of every node output, for one sample.
        activation_bytes: ``activation_elements`` times the batch size and
            the bytes per element.
        free_size_nodes: nodes whose output size is free (None) and so not
            counted in the activations.
    """

    params: int
    params_per_node: dict[str, int]
    activation_elements: int
    activation_bytes: int
    free_size_nodes: tuple[str, ...]

    def describe(self) -> str:
        text = f"{self.params:,} parameters, {_bytes(self.activation_bytes)} of activations"
        if self.free_size_nodes:
            text += f" ({len(self.free_size_nodes)} node(s) of free size not counted)"
        return text


def _bytes(count: int) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:,.1f} {unit} ({count:,} bytes)"
    return f"{count:,} bytes"


def _elements(shape: Any) -> int | None:
    """Return the elements of one sample of ``shape``, or None when a size is free."""
    if isinstance(shape, Mapping):
        counts = [_elements(value) for value in shape.values()]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[misc]
    dims = shape.torch_size()
    if any(not isinstance(d, int) or isinstance(d, bool) for d in dims):
        return None
    return math.prod(dims)


def _count_params(block: type[Block], in_shapes: Sequence[Shape], args: BlockArgs, path: str) -> int:
    """Return a node's parameters without allocating them.

    Raises:
        SpecError: when the block fails to count or to build on the meta device.
    """
    counter = getattr(block, "num_params", None)
    try:
        if counter is not None:
            count = counter(in_shapes, args)
        else:
            with torch.device("meta"):
                module = block.build(in_shapes, args, BuildContext(path=path))
            count = sum(parameter.numel() for parameter in module.parameters())
    except SpecError:
        raise
    except Exception as error:  # noqa: BLE001 - a plugin's block may raise anything
        raise SpecError(
            f"block '{block.name}' failed to count its parameters: {type(error).__name__}: {error}",
            node=path,
            found=", ".join(describe(s) for s in in_shapes),
            hint="this is a bug in the block, or its arguments are out of range",
        ) from None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise SpecError(
            f"block '{block.name}' counted {count!r} parameters",
            node=path,
            expected="an integer >= 0",
            hint="this is a bug in the block; report it to the block's author",
        )
    return count


def estimate_resources(spec: Any, report: Any, limits: ResourceLimits | None = None) -> ResourceEstimate:
    """Estimate the parameters and activation bytes of a spec from its inferred shapes.

    Args:
        spec: a loaded :class:`~cvgraph.pipeline.Spec`.
        report: its :class:`~cvgraph.infer.ShapeReport`.
        limits: supplies the batch size and bytes per element.

    Raises:
        SpecError: when a block fails to count its parameters.
    """
    limits = limits or ResourceLimits.from_env()
    params_per_node: dict[str, int] = {}
    elements = 0
    free: list[str] = []
    for path in report.graph.order:
        node = spec.node_index[path]
        in_shapes = [report.shape_of(ref) for ref in node.inputs]
        try:
            params_per_node[path] = _count_params(spec.blocks[path], in_shapes, spec.args[path], path)
        except SpecError as error:
            raise error.with_context(location=node.location, node=path) from None
        count = _elements(report.nodes[path])
        if count is None:
            free.append(path)
        else:
            elements += count
    return ResourceEstimate(
        params=sum(params_per_node.values()),
        params_per_node=params_per_node,
        activation_elements=elements,
        activation_bytes=elements * limits.batch_size * limits.bytes_per_element,
        free_size_nodes=tuple(free),
    )


def check_resources(spec: Any, report: Any, limits: ResourceLimits | None = None) -> ResourceEstimate:
    """Estimate a spec's size and raise if it exceeds the budget.

    Returns:
        The estimate, when it fits.

    Raises:
        ResourceError: with the estimate, the budget and the largest node.
    """
    limits = limits or ResourceLimits.from_env()
    estimate = estimate_resources(spec, report, limits)
    if estimate.params > limits.max_params:
        largest = max(estimate.params_per_node, key=estimate.params_per_node.__getitem__)
        raise ResourceError(
            f"the model would have an estimated {estimate.params:,} parameters, "
            f"more than the budget of {limits.max_params:,}",
            location=spec.location(largest),
            node=largest,
            expected=f"at most {limits.max_params:,} parameters",
            found=f"{estimate.params:,} parameters; node '{largest}' alone has {estimate.params_per_node[largest]:,}",
            hint=f"reduce the channels or layers, or raise the budget ({MAX_PARAMS_ENV}, --max-params, "
            "or ResourceLimits.max_params)",
        )
    if estimate.activation_bytes > limits.max_activation_bytes:
        raise ResourceError(
            f"one forward pass would need an estimated {_bytes(estimate.activation_bytes)} of activations "
            f"for batch {limits.batch_size}, more than the budget of {_bytes(limits.max_activation_bytes)}",
            location=Location(spec.file),
            expected=f"at most {limits.max_activation_bytes:,} bytes",
            found=f"{estimate.activation_elements:,} elements per sample x {limits.batch_size} x "
            f"{limits.bytes_per_element} bytes",
            hint=f"use a smaller input size or batch, or raise the budget ({MAX_ACTIVATION_BYTES_ENV}, "
            "--max-activation-bytes, or ResourceLimits.max_activation_bytes)",
        )
    return estimate
