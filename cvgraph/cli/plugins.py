"""Discovery commands: ``cvgraph plugins`` and ``cvgraph blocks``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import Command

__all__ = ["COMMANDS", "describe_args", "block_record"]


# plugins --------------------------------------------------------------------


def _plugins_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _plugin_specs(registry: Any, namespace: str) -> list[str]:
    from ..zoo import zoo_specs

    return [spec.name for spec in zoo_specs(registry) if spec.namespace == namespace]


def _short(names: list[str]) -> str:
    return ", ".join(name.split(":", 1)[1] for name in names)


def _plugins(args: argparse.Namespace) -> int:
    from ..registry import BUILTIN_NAMESPACE, default_registry

    registry = default_registry()
    records = []
    for info in registry.plugins:
        record = info.to_dict()
        record["specs"] = _plugin_specs(registry, info.name) if info.error is None else []
        records.append(record)
    if args.json:
        print(json.dumps(records, indent=2))
        return 0

    for record in records:
        builtin = ", built-in" if record["name"] == BUILTIN_NAMESPACE and record["distribution"] == "cvgraph" else ""
        status = "" if record["error"] is None else ": FAILED, skipped"
        print(f"{record['distribution']} {record['version']} (namespace '{record['name']}'{builtin}){status}")
        if record["error"] is not None:
            print(f"  error: {record['error']}")
            continue
        for key in ("blocks", "heads", "losses", "commands"):
            if record[key]:
                print(f"  {key}: {_short(record[key])}")
        if record["specs"]:
            print(f"  specs: {', '.join(record['specs'])}")
        for warning in record["warnings"]:
            print(f"  warning: {warning}")
    return 0


# blocks ---------------------------------------------------------------------


def _blocks_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show only this block, head or loss (short or namespace:name)")
    parser.add_argument("--kind", choices=("block", "head", "loss"), help="list only blocks, heads or losses")
    parser.add_argument("--json", action="store_true", help="print JSON, with each argument's JSON Schema")


def _type_of(schema: dict[str, Any]) -> str:
    """Name the type of a JSON Schema property, such as ``integer | [integer, integer]``."""
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type_of(option) for option in schema[key])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type", "any")
    if kind == "array":
        items = schema.get("items") or schema.get("prefixItems")
        if isinstance(items, list):
            return "[" + ", ".join(_type_of(item) for item in items) + "]"
        inner = _type_of(items) if isinstance(items, dict) else "any"
        count = schema.get("minItems")
        if count is not None and count == schema.get("maxItems"):
            return "[" + ", ".join([inner] * count) + "]"
        return f"list of {inner}"
    return str(kind)


_BOUNDS = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))


def describe_args(args_model: Any) -> list[str]:
    """Return one line per argument of a pydantic ``Args`` model: name, type, bounds, default, description."""
    schema = args_model.model_json_schema()
    required = set(schema.get("required", []))
    lines = []
    for name, prop in schema.get("properties", {}).items():
        parts = [f"{name}: {_type_of(prop)}"]
        bounds = [f"{symbol} {prop[key]}" for key, symbol in _BOUNDS if key in prop]
        if name in required:
            bounds.insert(0, "required")
        elif "default" in prop:
            bounds.append(f"default {json.dumps(prop['default'])}")
        if bounds:
            parts.append(f"({', '.join(bounds)})")
        if prop.get("description"):
            parts.append(f"- {prop['description']}")
        lines.append(" ".join(parts))
    return lines


def block_record(entry: Any) -> dict[str, Any]:
    """Return what ``cvgraph blocks --json`` prints for one registry entry."""
    cls = entry.cls
    record: dict[str, Any] = {
        "name": entry.name,
        "full_name": entry.full_name,
        "kind": entry.kind,
        "source": entry.source,
        "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
        "args": cls.Args.model_json_schema(),
    }
    if entry.kind != "loss":
        low, high = cls.arity
        record["inputs"] = {"min": low, "max": high}
        record["outputs"] = list(cls.outputs) if cls.outputs else None
    return record


def _find(registry: Any, name: str, kind: str | None) -> Any:
    """Return the entry called ``name`` among blocks and heads, then losses.

    Raises:
        SpecError: for an unknown name, or a name of another kind than ``kind``.
    """
    from ..errors import SpecError

    lookups = []
    if kind in (None, "block", "head"):
        lookups.append(registry.block_entry)
    if kind in (None, "loss"):
        lookups.append(registry.loss_entry)
    first_error: SpecError | None = None
    for lookup in lookups:
        try:
            entry = lookup(name)
        except SpecError as error:
            first_error = first_error or error
            continue
        if kind in (None, entry.kind):
            return entry
        first_error = SpecError(f"'{name}' is a {entry.kind}, not a {kind}", found=entry.full_name)
    assert first_error is not None
    raise first_error


def _blocks(args: argparse.Namespace) -> int:
    from ..registry import default_registry

    registry = default_registry()
    if args.name:
        entries = [_find(registry, args.name, args.kind)]
    else:
        entries = [e for e in registry.blocks() + registry.losses() if args.kind in (None, e.kind)]
    if args.json:
        print(json.dumps([block_record(entry) for entry in entries], indent=2))
        return 0

    for entry in entries:
        record = block_record(entry)
        print(f"{record['full_name']}  [{record['kind']}]  {record['description']}")
        for line in describe_args(entry.cls.Args):
            print(f"    {line}")
    return 0


COMMANDS = [
    Command("plugins", "List installed plugins: distribution, version, what each registers, and errors.", _plugins_arguments, _plugins),
    Command("blocks", "List registered blocks, heads and losses with their descriptions and arguments.", _blocks_arguments, _blocks),
]
