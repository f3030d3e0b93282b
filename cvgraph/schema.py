"""JSON Schema of specs, with the arguments of every registered block, for editors."""

from __future__ import annotations

import copy
from typing import Any

from .registry import Registry
from .spec import SpecModel

__all__ = ["spec_schema"]

_EXPRESSION = {"type": "string", "pattern": r"\$\{", "description": "a ${...} expression"}


def _allow_expressions(schema: dict[str, Any]) -> dict[str, Any]:
    """Let every argument also be a ``${...}`` string, as specs allow."""
    properties = schema.get("properties", {})
    for name, prop in list(properties.items()):
        properties[name] = {"anyOf": [prop, _EXPRESSION], **({"description": prop["description"]} if "description" in prop else {})}
    return schema


def spec_schema(registry: Registry) -> dict[str, Any]:
    """Return a JSON Schema (draft 2020-12) for spec files.

    A node's ``args`` are checked against the schema of the block it names,
    for every block in ``registry``, the plugins' included.
    """
    schema = SpecModel.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cvgraph spec"
    defs = schema.setdefault("$defs", {})

    conditions = []
    for entry in registry.blocks():
        args_schema = entry.cls.Args.model_json_schema()
        for key, value in args_schema.pop("$defs", {}).items():
            defs.setdefault(key, value)
        args_schema = _allow_expressions(copy.deepcopy(args_schema))
        args_schema.setdefault("description", entry.cls.description)
        def_name = f"args_{entry.namespace}_{entry.name}"
        defs[def_name] = args_schema
        conditions.append(
            {
                "if": {"properties": {"block": {"enum": [entry.name, entry.full_name]}}, "required": ["block"]},
                "then": {"properties": {"args": {"$ref": f"#/$defs/{def_name}"}}},
            }
        )
    node = defs.get("NodeModel")
    if node is not None:
        node["allOf"] = conditions
        node["properties"]["block"]["examples"] = sorted({e.name for e in registry.blocks()})
    return schema
