"""pydantic models of a spec's structure, checked before expansion.

Fields that may hold a ``${...}`` expression accept the expression string
here; expansion evaluates it and the block's ``Args`` check the result.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = ["InputModel", "NodeModel", "SubgraphModel", "SpecModel", "NAME_PATTERN"]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
"""Node, input and param names: letters, digits and underscores (no dots, which address ports)."""


def _check_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValueError(f"invalid name {value!r}: use letters, digits and underscores only")
    return value


def _int_or_expression(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected an integer or a '${{...}}' expression, found {value!r}")
    if isinstance(value, str) and "${" not in value:
        raise ValueError(f"expected an integer or a '${{...}}' expression, found the string {value!r}")
    return value


def _bool_or_expression(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and "${" in value:
        return value
    raise ValueError(f"expected true, false or a '${{...}}' expression, found {value!r}")


def _refs(value: Any) -> Any:
    if value is None:
        return value
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        raise ValueError("expected at least one node name")
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"expected a node name or a list of node names, found {item!r}")
    return value


IntOrExpression = Annotated[Any, AfterValidator(_int_or_expression)]
BoolOrExpression = Annotated[Any, AfterValidator(_bool_or_expression)]
Refs = Annotated[Any, AfterValidator(_refs)]
Name = Annotated[str, AfterValidator(_check_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class InputModel(_Strict):
    """One model input: an image batch (N, C, H, W) with optional fixed sizes."""

    channels: int = Field(ge=1, le=1_000_000, description="C, the number of channels")
    height: int | None = Field(default=None, ge=1, description="H in pixels; leave out for any size")
    width: int | None = Field(default=None, ge=1, description="W in pixels; leave out for any size")


class NodeModel(_Strict):
    """One node: an instance of a registered block or of a sub-graph from ``define``."""

    block: str = Field(description="registered block name, or a sub-graph name from 'define'")
    from_: Refs = Field(
        default=None,
        alias="from",
        description="input node(s), 'node' or 'node.port'; default: the previous node",
    )
    args: dict[str, Any] = Field(default_factory=dict, description="the block's arguments")
    repeat: IntOrExpression = Field(
        default=None, description="build the node this many times in a chain, as children 0..n-1"
    )
    when: BoolOrExpression = Field(
        default=True, description="when false, the node is left out and passes its input through"
    )
    doc: str = Field(default="", description="free text for readers")


class SubgraphModel(_Strict):
    """A reusable sub-graph, used as a block by nodes of the spec."""

    description: str = ""
    params: dict[Name, Any] = Field(
        default_factory=dict,
        description="parameters with defaults; the type names int, float, bool, str or list mark a required one",
    )
    inputs: list[Name] = Field(default_factory=lambda: ["input"], min_length=1)
    nodes: dict[Name, NodeModel] = Field(min_length=1)
    outputs: Name | dict[Name, str] | None = None


class SpecModel(_Strict):
    """A whole spec: a graph of named nodes with inputs, params and outputs."""

    name: Name
    description: str = ""
    extends: str | None = Field(default=None, description="a base spec (path or zoo name) whose keys this spec overrides")
    inputs: dict[Name, InputModel] = Field(min_length=1)
    params: dict[Name, Any] = Field(default_factory=dict)
    include: list[str] = Field(default_factory=list, description="spec or block files, by path or zoo name")
    define: dict[Name, SubgraphModel] = Field(default_factory=dict)
    nodes: dict[Name, NodeModel] = Field(min_length=1)
    outputs: str | list[str] | dict[Name, str] | None = Field(
        default=None, description="output name -> node; default: the last node"
    )
