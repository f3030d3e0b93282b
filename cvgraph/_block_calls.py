"""Calling a block's own code (shape function, builder, counters) with located errors."""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

from .errors import Location, SpecError
from .shapes import Shape, describe

__all__ = ["calling_block", "BLOCK_BUG_HINT"]

BLOCK_BUG_HINT = "this is a bug in the block; report it to the block's author"


@contextlib.contextmanager
def calling_block(
    block: type, failure: str, *, location: Location, node: str, inputs: Sequence[Shape] = ()
) -> Iterator[None]:
    """Give errors raised inside a block's code the node's location.

    A :class:`SpecError` gets the location and node where it has none. Any
    other exception, which a plugin's code may raise, becomes a SpecError
    that reads "block '<name>' <failure>: <exception>".
    """
    try:
        yield
    except SpecError as error:
        raise error.with_context(location=location, node=node) from None
    except Exception as error:  # noqa: BLE001 - a plugin's block may raise anything
        raise SpecError(
            f"block '{getattr(block, 'name', block)}' {failure}: {type(error).__name__}: {error}",
            location=location,
            node=node,
            found=", ".join(describe(s) for s in inputs) if inputs else None,
            hint=BLOCK_BUG_HINT,
        ) from None
