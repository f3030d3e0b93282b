"""Registered losses and heads by name, from Python, with validated arguments.

Example::

    import cvgraph
    criterion = cvgraph.loss("dice", mode="multiclass", smooth=1.0)
    head = cvgraph.head("classifier", "2048x7x7", num_classes=10)
"""

from __future__ import annotations

from typing import Any, Sequence

from torch import nn

from .block import BuildContext
from .errors import SpecError
from .infer import parse_input_size
from .registry import Registry, default_registry
from .shapes import FeatureMap, Shape, Vector, describe
from .validation import validate_model

__all__ = ["loss", "head"]

_SHAPE_TYPES = (FeatureMap, Vector)


def loss(name: str, /, *, registry: Registry | None = None, **kwargs: Any) -> nn.Module:
    """Build a registered loss by name, validating its arguments.

    Args:
        name: the loss name, short (``dice``) or namespaced (``attention:dice``).
        registry: where the name resolves (default: built-ins and installed plugins).
        **kwargs: the loss's arguments, checked against its ``Args``.

    Returns:
        The loss module, called as ``criterion(pred, target)``.

    Raises:
        SpecError: for an unknown name or an invalid argument, naming the argument.
    """
    cls = (registry or default_registry()).loss(name)
    args = validate_model(cls.Args, dict(kwargs), what=f"args of loss '{cls.name}'")
    return cls.build(args)


def _input_shape(value: Any) -> Shape:
    """Read ``"2048x7x7"`` (C x H x W, a batch size is dropped), a Shape, or an int (a vector's features)."""
    if isinstance(value, _SHAPE_TYPES):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Vector(value)
    return parse_input_size(value)


def head(name: str, /, inputs: Any, *, registry: Registry | None = None, **kwargs: Any) -> nn.Module:
    """Build a registered head by name for given input shapes, validating its arguments.

    Args:
        name: the head name, short (``classifier``) or namespaced.
        inputs: the input shape, or a list of them for a head with several
            inputs: ``"2048x7x7"`` (C x H x W), a :class:`FeatureMap`, or an
            int for a vector of that many features.
        registry: where the name resolves.
        **kwargs: the head's arguments, checked against its ``Args``.

    Returns:
        The head's ``nn.Module``.

    Raises:
        SpecError: for an unknown name, a block that is not a head, an
            invalid argument, or inputs the head cannot take (a ShapeError).
    """
    entry = (registry or default_registry()).block_entry(name)
    cls = entry.cls
    if entry.kind != "head":
        raise SpecError(
            f"'{entry.full_name}' is a {entry.kind}, not a head",
            hint="run 'cvgraph blocks --kind head' to list the heads",
        )
    args = validate_model(cls.Args, dict(kwargs), what=f"args of head '{cls.name}'")
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    shapes: Sequence[Shape] = [_input_shape(item) for item in items]
    low, high = cls.arity
    if not low <= len(shapes) <= (high if high is not None else len(shapes)):
        raise SpecError(
            f"head '{cls.name}' takes {low} to {high if high is not None else 'any number of'} inputs",
            found=", ".join(describe(s) for s in shapes),
        )
    cls.infer(shapes, args)
    return cls.build(shapes, args, BuildContext(path=cls.name))
