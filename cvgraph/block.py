"""The block contract: what every registered block provides.

A block is a class with a name, a pydantic ``Args`` model, a pure shape
function and a builder. The compiler never looks inside a block: it validates
the arguments with ``Args``, calls ``infer`` for the output shape, then calls
``build`` once every shape in the graph is known.

Example::

    class Flatten(Block):
        name = "flatten"
        description = "Flatten a feature map to a vector."

        @classmethod
        def infer(cls, inputs, args):
            fm = expect_feature_map(inputs[0])
            ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Mapping, Sequence

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

from .errors import ShapeError
from .shapes import FeatureMap, Shape, Vector, describe

__all__ = [
    "Block",
    "BlockArgs",
    "BuildContext",
    "ReceptiveFieldStep",
    "IntPair",
    "expect_feature_map",
    "expect_vector",
]


class BlockArgs(BaseModel):
    """Base of every block's ``Args``.

    Strict: ``"64"``, ``64.0`` and ``true`` are rejected where an integer is
    expected, and unknown argument names are an error.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


MAX_PAIR_VALUE = 2**31 - 1
"""The largest kernel size, stride, padding or dilation: torch's pooling kernels take int32."""


def _to_pair(value: Any) -> Any:
    """Accept ``3`` or ``[3, 5]`` for a (height, width) pair of integers."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer or a list of two integers, found {value!r}")
    if isinstance(value, int):
        value = (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            if max(abs(v) for v in value) > MAX_PAIR_VALUE:
                raise ValueError(f"values must be at most {MAX_PAIR_VALUE} (2**31 - 1), found {list(value)}")
            return (value[0], value[1])
    raise ValueError(f"expected an integer or a list of two integers, found {value!r}")


_PAIR_SCHEMA = {
    "anyOf": [
        {"type": "integer"},
        {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
    ]
}
IntPair = Annotated[tuple[int, int], BeforeValidator(_to_pair), WithJsonSchema(_PAIR_SCHEMA)]
"""A (height, width) pair written as ``3`` or ``[3, 5]``."""


@dataclass(frozen=True)
class ReceptiveFieldStep:
    """The receptive-field step of one block: kernel, stride, dilation and padding per axis."""

    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    transposed: bool = False
    """True for up-sampling blocks: the stride divides the distance between output pixels."""
    whole_input: bool = False
    """True when every output pixel depends on the whole input (adaptive pooling)."""


@dataclass(frozen=True)
class BuildContext:
    """Facts the compiler passes to a block's ``build`` beyond its shapes and args.

    Attributes:
        path: the node path, such as ``layer1.0.relu``.
        inplace_ok: True when the block may overwrite its first input: no other
            node reads that memory, and autograd does not keep it for backward.
    """

    path: str
    inplace_ok: bool = False


class Block:
    """Base class of every block.

    Subclasses set ``name`` (the registry key), ``description``, ``Args``
    and ``arity``, and implement ``infer`` and ``build``. Blocks with several
    outputs list their names in ``outputs``; a spec addresses them as
    ``node.name`` and ``build``'s module returns a tuple in that order.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Args: ClassVar[type[BlockArgs]] = BlockArgs
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    """Minimum and maximum number of inputs (None: no maximum)."""
    outputs: ClassVar[tuple[str, ...] | None] = None
    leaf: ClassVar[bool] = False
    """True for blocks with data-dependent control flow that fx must not trace."""
    head: ClassVar[bool] = False
    """True for blocks that produce task outputs (scores, boxes, masks)."""

    # Memory facts the compiler uses to decide where in-place operations are safe.
    # The defaults assume the worst, so a block that leaves them alone is never
    # the victim of another block's in-place write.
    inplace: ClassVar[bool] = False
    """True if the module overwrites its first input when ``ctx.inplace_ok`` is set."""
    view_of_input: ClassVar[bool] = True
    """True if the output may share memory with the first input (identity, flatten, dropout in eval)."""
    saves_output: ClassVar[bool] = True
    """True if autograd keeps the output for the backward pass (relu, sigmoid), so it must not be overwritten."""

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: BlockArgs) -> Shape | Mapping[str, Shape]:
        """Return the output shape (or a dict of them, for multi-output blocks).

        Pure and cheap: no torch. Raise :class:`ShapeError` for inputs the
        block cannot take.
        """
        raise NotImplementedError(f"block '{cls.name}' has no shape function")

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: BlockArgs, ctx: BuildContext) -> Any:
        """Return the ``nn.Module`` for one node, given its input shapes."""
        raise NotImplementedError(f"block '{cls.name}' has no builder")

    @classmethod
    def macs(cls, inputs: Sequence[Shape], output: Any, args: BlockArgs) -> int:
        """Return the multiply-accumulates of one sample's forward pass."""
        return 0

    @classmethod
    def receptive_field(cls, args: BlockArgs) -> ReceptiveFieldStep | None:
        """Return how the block widens the receptive field (None: it does not)."""
        return None


def expect_feature_map(shape: Shape, what: str = "input") -> FeatureMap:
    """Return ``shape`` if it is a feature map; raise :class:`ShapeError` if not."""
    if not isinstance(shape, FeatureMap):
        raise ShapeError(
            f"{what} must be a feature map",
            expected="FeatureMap (N, C, H, W)",
            found=describe(shape),
            hint="insert a block that produces a feature map, or use a block for vectors",
        )
    return shape


def expect_vector(shape: Shape, what: str = "input") -> Vector:
    """Return ``shape`` if it is a vector; raise :class:`ShapeError` if not."""
    if not isinstance(shape, Vector):
        raise ShapeError(
            f"{what} must be a vector",
            expected="Vector (N, F)",
            found=describe(shape),
            hint="insert 'flatten' or a global pooling block before it",
        )
    return shape
