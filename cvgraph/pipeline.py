"""From a spec source (file, zoo name or dict) to a validated, expanded :class:`Spec`."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ._gc import without_gc
from .block import Block, BlockArgs
from .errors import Location, SpecError
from .expand import ExpandLimits, FlatNode, Ref, expand
from .expr import ExpressionError, short_repr, has_expression, substitute
from .loader import DEFAULT_LIMITS, LoadLimits, LocDict, load_file, load_text, location_of
from .registry import Registry, default_registry
from .spec import InputModel, SpecModel, SubgraphModel
from .validation import validate_model
from .zoo import SPEC_SUFFIXES, find_spec

__all__ = ["Spec", "load_spec", "parse_override"]

_MAX_INCLUDE_DEPTH = 16


@dataclass
class Spec:
    """A validated spec, expanded to a flat graph of block instances.

    Attributes:
        name: the spec's name.
        file: the file it came from, or None for a dict.
        inputs: the model inputs by name.
        params: the evaluated top-level params, overrides applied.
        nodes: the block instances in spec order.
        blocks: each node path's block class.
        args: each node path's validated arguments.
        outputs: each model output's producing node.
    """

    name: str
    file: str | None
    description: str
    inputs: dict[str, InputModel]
    params: dict[str, Any]
    nodes: list[FlatNode]
    blocks: dict[str, type[Block]]
    args: dict[str, BlockArgs]
    outputs: dict[str, Ref]
    output_locations: dict[str, Location]
    registry: Registry
    node_index: dict[str, FlatNode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.node_index = {node.path: node for node in self.nodes}

    @property
    def fingerprint(self) -> str:
        """A SHA-256 of the expanded graph: blocks, args and wiring (not names of files).

        Arguments left at their defaults are not part of it, so a new optional
        argument of a block does not invalidate weights saved before it existed.
        Output names are not part of it either: they own no weights.
        """
        canonical = {
            "inputs": {k: v.channels for k, v in self.inputs.items()},
            "nodes": [
                [n.path, self.blocks[n.path].name, self.args[n.path].model_dump(mode="json", exclude_defaults=True), [str(r) for r in n.inputs]]
                for n in self.nodes
            ],
        }
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def location(self, path: str) -> Location:
        node = self.node_index.get(path)
        return node.location if node is not None else Location(self.file)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse a ``--set key.path=value`` override; the value is read as YAML.

    Raises:
        SpecError: when the text has no '='.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SpecError(
            f"invalid override {text!r}",
            expected="KEY=VALUE, such as params.width=32",
            found=text,
        )
    parsed = load_text(value, file="<--set>") if value.strip() else ""
    return key.strip(), parsed


def _read_source(source: Any, registry: Registry, limits: LoadLimits) -> tuple[Any, str | None]:
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source)), None
    if isinstance(source, (str, Path)):
        text = str(source)
        path = Path(text)
        if path.suffix.lower() in SPEC_SUFFIXES or path.exists() or "/" in text:
            return load_file(path, limits=limits), str(path)
        zoo_path = find_spec(text, registry)
        return load_file(zoo_path, limits=limits), str(zoo_path)
    raise SpecError(
        f"a spec must be a file path, a zoo name or a dict, found {type(source).__name__}",
        hint="pass a path such as 'model.yaml', a zoo name such as 'resnet50', or a dict",
    )


_MERGED_KEYS = ("params", "define", "inputs", "nodes")


def _merge(base: LocDict, child: LocDict) -> LocDict:
    """Overlay ``child`` on ``base``: mappings in _MERGED_KEYS merge by key, other keys are replaced."""
    merged = LocDict(base, location=child.location)
    merged.key_locations = {**base.key_locations, **child.key_locations}
    for key, value in child.items():
        old = base.get(key)
        if key in _MERGED_KEYS and isinstance(old, dict) and isinstance(value, dict):
            inner = LocDict(old, location=getattr(value, "location", Location()))
            inner.key_locations = {**getattr(old, "key_locations", {}), **getattr(value, "key_locations", {})}
            inner.update(value)
            merged[key] = inner
        else:
            merged[key] = value
    merged.pop("extends", None)
    return merged


def _resolve_extends(
    raw: Any, file: str | None, registry: Registry, limits: LoadLimits, chain: tuple[str, ...] = ()
) -> Any:
    """Replace ``extends: base`` by the base spec with this spec's keys laid over it."""
    if not isinstance(raw, dict) or "extends" not in raw:
        return raw
    entry = raw["extends"]
    where = location_of(raw, "extends")
    if not isinstance(entry, str) or not entry:
        raise SpecError("'extends' must name a spec file or zoo spec", location=where, found=repr(entry))
    path = _located_include_path(entry, file, registry, where)
    key = str(path.resolve())
    if key in chain or len(chain) >= _MAX_INCLUDE_DEPTH:
        raise SpecError(f"'extends' cycle: '{entry}' extends itself", location=where, found=" -> ".join([*chain, key]))
    try:
        base = load_file(path, limits=limits)
    except SpecError as error:
        raise SpecError(f"cannot extend '{entry}': {error.message}", location=where, hint=error.hint) from None
    if not isinstance(base, LocDict):
        raise SpecError(f"the base spec '{entry}' is not a mapping", location=where)
    base = _resolve_extends(base, str(path), registry, limits, (*chain, key))
    _check_extended_params(raw, base, entry)
    merged = _merge(base, raw if isinstance(raw, LocDict) else LocDict(raw, location=Location(file)))
    if "include" in base and "include" not in raw:
        # Relative includes of the base spec are resolved from the base spec's folder.
        merged["include"] = [str(_include_path(item, str(path), registry)) if isinstance(item, str) else item for item in base["include"]]
    return merged


def _check_extended_params(child: Any, base: Any, entry: str) -> None:
    """Reject params that the base spec does not declare, unless the child adds nodes or defines that may use them.

    Without this check a misspelled param (``widht``) would be silently ignored.
    """
    params = child.get("params")
    if not isinstance(params, dict) or "nodes" in child or "define" in child:
        return
    declared = base.get("params", {}) if isinstance(base.get("params"), dict) else {}
    for name in params:
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=3)
            raise SpecError(
                f"param '{name}' is not declared by the base spec '{entry}'",
                location=location_of(params, name),
                expected=f"one of: {', '.join(declared) or 'no params'}",
                found=name,
                hint=f"did you mean {' or '.join(repr(c) for c in close)}?"
                if close
                else "a new param needs nodes or a define that use it",
            )


def _apply_override(raw: LocDict, key: str, value: Any, file: str | None) -> None:
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(parts[: i + 1])
            known = list(node) if isinstance(node, dict) else []
            close = difflib.get_close_matches(part, known, n=3)
            raise SpecError(
                f"override '{key}': the spec has no '{where}'",
                location=Location(file),
                hint=f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None,
            )
        node = node[part]
    last = parts[-1]
    if not isinstance(node, dict):
        raise SpecError(f"override '{key}': '{'.'.join(parts[:-1])}' is not a mapping", location=Location(file))
    if parts[0] == "params" and len(parts) == 2 and last not in node:
        close = difflib.get_close_matches(last, list(node), n=3)
        raise SpecError(
            f"unknown param '{last}'",
            location=Location(file),
            expected=f"one of: {', '.join(node) or 'no params'}",
            found=last,
            hint=f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None,
        )
    node[last] = value


def _include_path(entry: str, base: str | None, registry: Registry) -> Path:
    path = Path(entry)
    if path.suffix.lower() not in SPEC_SUFFIXES:
        return find_spec(entry, registry, libraries=True)
    if path.is_absolute():
        return path
    folder = Path(base).parent if base else Path.cwd()
    return folder / path


def _located_include_path(entry: str, base: str | None, registry: Registry, where: Location) -> Path:
    """Resolve an include or extends entry; an unknown zoo name is reported where it is written."""
    try:
        return _include_path(entry, base, registry)
    except SpecError as error:
        raise error.with_context(location=where) from None


def _gather_includes(
    raw: LocDict, file: str | None, registry: Registry, limits: LoadLimits, chain: tuple[str, ...]
) -> tuple[dict[str, LocDict], dict[str, Any]]:
    """Return the defines and params of every included file, includes of includes first."""
    defines: dict[str, LocDict] = {}
    params: dict[str, Any] = {}
    includes = raw.get("include", [])
    for index, entry in enumerate(includes):
        where = location_of(includes, index)
        path = _located_include_path(entry, file, registry, where)
        key = str(path.resolve())
        if key in chain:
            raise SpecError(
                f"include cycle: '{entry}' includes itself",
                location=where,
                found=" -> ".join([*chain, key]),
            )
        if len(chain) >= _MAX_INCLUDE_DEPTH:
            raise SpecError(f"includes nest deeper than {_MAX_INCLUDE_DEPTH} files", location=where)
        try:
            included = load_file(path, limits=limits)
        except SpecError as error:
            raise SpecError(f"cannot include '{entry}': {error.message}", location=where, hint=error.hint) from None
        if not isinstance(included, dict):
            raise SpecError(f"included file '{entry}' is not a mapping", location=where)
        _validate_library(included, str(path))
        inner_defines, inner_params = _gather_includes(included, str(path), registry, limits, (*chain, key))
        for source in (inner_defines, included.get("define", {})):
            for name, define in source.items():
                if name in defines:
                    raise SpecError(
                        f"sub-graph '{name}' is defined by two included files",
                        location=location_of(source, name) if isinstance(source, LocDict) else where,
                        hint="rename one of the two definitions",
                    )
                defines[name] = define
        params.update(inner_params)
        params.update(included.get("params", {}))
    return defines, params


class _LibraryModel(SpecModel):
    """An included file: like a spec, but 'name', 'inputs' and 'nodes' are optional."""

    name: str = "library"  # type: ignore[assignment]
    inputs: dict[str, InputModel] = {}  # type: ignore[assignment]
    nodes: dict[str, Any] = {}  # type: ignore[assignment]


def _validate_library(raw: Any, file: str) -> None:
    validate_model(_LibraryModel, raw, location=Location(file), what="included file")


def _evaluate_params(params: Mapping[str, Any], raw_params: Any, file: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in params.items():
        where = location_of(raw_params, name) if isinstance(raw_params, LocDict) else Location(file)
        values[name] = _evaluate_value(value, values, where, f"params.{name}")
    return values


def _evaluate_value(value: Any, names: Mapping[str, Any], where: Location, what: str) -> Any:
    if isinstance(value, str) and has_expression(value):
        try:
            return substitute(value, names)
        except ExpressionError as error:
            raise SpecError(f"cannot evaluate {what} = {short_repr(value)}: {error}", location=where) from None
    if isinstance(value, dict):
        return {k: _evaluate_value(v, names, where, f"{what}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_evaluate_value(v, names, where, f"{what}[{i}]") for i, v in enumerate(value)]
    return value


@without_gc
def load_spec(
    source: str | Path | Mapping[str, Any],
    *,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
    load_limits: LoadLimits = DEFAULT_LIMITS,
    expand_limits: ExpandLimits = ExpandLimits(),
    limits: Any = None,
) -> Spec:
    """Load, validate and expand a spec.

    Args:
        source: a spec file (``.yaml``, ``.yml``, ``.json``), a zoo name such as
            ``"resnet50"``, or the spec as a dict.
        params: values for the spec's top-level params, such as ``{"num_classes": 10}``.
        overrides: any other key of the spec by dotted path, such as
            ``{"nodes.fc.args.bias": False}``.
        registry: where block names resolve (default: built-ins and installed plugins).
        load_limits: bounds on the spec text.
        expand_limits: bounds on the expanded graph.
        limits: a :class:`cvgraph.limits.Limits`; when given, its ``load`` and
            ``expand`` bounds replace ``load_limits`` and ``expand_limits``.

    Raises:
        SpecError: for every problem, with the file, line and node path.
    """
    registry = registry or default_registry()
    if limits is not None:
        load_limits, expand_limits = limits.load, limits.expand
    raw, file = _read_source(source, registry, load_limits)
    raw = _resolve_extends(raw, file, registry, load_limits)
    if not isinstance(raw, dict):
        raise SpecError(
            "a spec must be a mapping with 'name', 'inputs' and 'nodes'",
            location=Location(file),
            found=type(raw).__name__,
        )
    if not isinstance(raw, LocDict):
        raw = LocDict(raw, location=Location(file))

    for key, value in dict(overrides or {}).items():
        _apply_override(raw, key, value, file)
    for key, value in dict(params or {}).items():
        if not isinstance(raw.get("params"), dict):
            raise SpecError(f"unknown param '{key}': the spec declares no params", location=Location(file))
        _apply_override(raw, f"params.{key}", value, file)

    model = validate_model(SpecModel, raw, location=Location(file))
    defines, included_params = _gather_includes(raw, file, registry, load_limits, (str(Path(file).resolve()),) if file else ())
    for name, define in raw.get("define", {}).items():
        defines[name] = define
    merged_params = {**included_params, **raw.get("params", {})}
    param_values = _evaluate_params(merged_params, raw.get("params"), file)

    expansion = expand(
        raw["nodes"],
        defines,
        param_values,
        list(model.inputs),
        raw.get("outputs"),
        location_of(raw, "outputs"),
        expand_limits,
    )
    for name, define in defines.items():
        validate_model(SubgraphModel, define, location=location_of(define), node=None, what=f"sub-graph '{name}'")

    blocks: dict[str, type[Block]] = {}
    args: dict[str, BlockArgs] = {}
    for node in expansion.nodes:
        try:
            block = registry.block(node.block)
        except SpecError as error:
            raise error.with_context(location=node.location, node=node.path) from None
        blocks[node.path] = block
        args[node.path] = _validate_args(block, node)

    return Spec(
        name=model.name,
        file=file,
        description=model.description,
        inputs=dict(model.inputs),
        params=param_values,
        nodes=expansion.nodes,
        blocks=blocks,
        args=args,
        outputs=expansion.outputs,
        output_locations=expansion.output_locations,
        registry=registry,
    )


def _validate_args(block: type[Block], node: FlatNode) -> BlockArgs:
    tree = LocDict(node.args, location=node.location)
    tree.key_locations.update(node.arg_locations)
    return validate_model(
        block.Args, node.args, tree=tree, location=node.location, node=node.path, what=f"args of block '{block.name}'"
    )
