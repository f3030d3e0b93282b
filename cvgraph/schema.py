"""JSON Schema of specs, with the arguments of every registered block, for editors."""

from __future__ import annotations

import copy
from typing import Any

from .errors import SpecError
from .registry import Entry, Registry
from .spec import SpecModel

__all__ = ["spec_schema"]

_EXPRESSION = {"type": "string", "pattern": r"\$\{", "description": "a ${...} expression"}


def _allow_expressions(schema: dict[str, Any]) -> dict[str, Any]:
    """Let every argument also be a ``${...}`` string, as specs allow."""
    properties = schema.get("properties", {})
    for name, prop in list(properties.items()):
        properties[name] = {"anyOf": [prop, _EXPRESSION], **({"description": prop["description"]} if "description" in prop else {})}
    return schema


def _own_definitions(args_schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Prefix the nested definitions of one block's Args schema, and the references to them.

    Two blocks may both define an enum or sub-model called ``Mode``; without
    the prefix, one block's definition would replace the other's.
    """
    renamed = {key: f"{prefix}__{key}" for key in args_schema.get("$defs", {})}

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            result = {key: rewrite(item) for key, item in value.items()}
            reference = result.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                result["$ref"] = f"#/$defs/{renamed.get(reference[len('#/$defs/'):], reference[len('#/$defs/'):])}"
            return result
        if isinstance(value, list):
            return [rewrite(item) for item in value]
        return value

    result = rewrite(args_schema)
    if "$defs" in result:
        result["$defs"] = {renamed[key]: value for key, value in result["$defs"].items()}
    return result


def _names_of(entry: Entry, registry: Registry) -> list[str]:
    """Return the names a spec may write for ``entry``: the full name, and the short one where it resolves to it."""
    try:
        short_resolves = registry.block_entry(entry.name) is entry
    except SpecError:
        short_resolves = False
    return [entry.name, entry.full_name] if short_resolves else [entry.full_name]


def _allow_partial_files(schema: dict[str, Any]) -> None:
    """Accept the three kinds of spec files, not only complete specs.

    A complete spec has ``name``, ``inputs`` and ``nodes``. A spec with
    ``extends`` takes what it leaves out from its base. An include-only
    library (``_resnet_blocks.yaml``) has ``define`` and no ``nodes``.
    """
    schema["required"] = []
    schema["anyOf"] = [
        {"required": ["name", "inputs", "nodes"]},
        {"required": ["name", "extends"]},
        {"required": ["define"], "not": {"required": ["nodes"]}},
    ]


def spec_schema(registry: Registry) -> dict[str, Any]:
    """Return a JSON Schema (draft 2020-12) for spec files.

    A node's ``args`` are checked against the schema of the block it names,
    for every block in ``registry``, the plugins' included.

    NOTE: a ``${...}`` expression is accepted in place of a whole argument,
    but not inside a list (``kernel_size: [3, "${k}"]`` fails this schema
    while the spec itself is valid).
    """
    schema = SpecModel.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cvgraph spec"
    defs = schema.setdefault("$defs", {})

    _allow_partial_files(schema)
    conditions = []
    for index, entry in enumerate(registry.blocks()):
        def_name = f"args_{entry.namespace}_{entry.name}"
        if def_name in defs:
            # 'a_b' + 'c' and 'a' + 'b_c' give one name; keep both schemas apart.
            def_name = f"{def_name}_{index}"
        args_schema = _own_definitions(entry.cls.Args.model_json_schema(), def_name)
        for key, value in args_schema.pop("$defs", {}).items():
            defs[key] = value
        args_schema = _allow_expressions(copy.deepcopy(args_schema))
        args_schema.setdefault("description", entry.cls.description)
        defs[def_name] = args_schema
        conditions.append(
            {
                "if": {"properties": {"block": {"enum": _names_of(entry, registry)}}, "required": ["block"]},
                "then": {"properties": {"args": {"$ref": f"#/$defs/{def_name}"}}},
            }
        )
    node = defs.get("NodeModel")
    if node is not None:
        node["allOf"] = conditions
        node["properties"]["block"]["examples"] = sorted({n for e in registry.blocks() for n in _names_of(e, registry)})
    return schema
