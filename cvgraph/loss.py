"""The loss contract: registered, named, with validated arguments."""

from __future__ import annotations

from typing import Any, ClassVar

from .block import BlockArgs

__all__ = ["Loss"]


class Loss:
    """Base class of every registered loss.

    Subclasses set ``name``, ``description`` and ``Args`` and implement
    ``build``, which returns an ``nn.Module`` called as ``loss(pred, target)``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Args: ClassVar[type[BlockArgs]] = BlockArgs

    @classmethod
    def build(cls, args: BlockArgs) -> Any:
        """Return the loss module for validated ``args``."""
        raise NotImplementedError(f"loss '{cls.name}' has no builder")
