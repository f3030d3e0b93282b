"""Expansion: params substituted, repeats unrolled, sub-graphs inlined.

The result is a flat list of :class:`FlatNode`, one per block instance, each
named by its full path (``layer3.2.conv1``). Sub-graph instances and repeated
nodes leave no node of their own: their path becomes an alias of the node
that produces their output, so ``from: layer1`` reaches ``layer1.2.relu3``.
Forward references inside a scope are allowed; cycles are found later, on
the graph.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import Location, SpecError
from .expr import ExpressionError, short_repr, has_expression, substitute
from .loader import LocDict, LocList, location_of

__all__ = ["Ref", "FlatNode", "ExpandLimits", "Expansion", "expand"]

_TYPE_MARKERS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "list": (list,),
}


@dataclass(frozen=True)
class Ref:
    """A reference to a node's output: its path, and the output name of a multi-output node."""

    path: str
    port: str | None = None

    def __str__(self) -> str:
        return self.path if self.port is None else f"{self.path}.{self.port}"


@dataclass
class FlatNode:
    """One block instance after expansion."""

    path: str
    block: str
    args: dict[str, Any]
    inputs: list[Ref]
    location: Location
    arg_locations: dict[str, Location] = field(default_factory=dict)


@dataclass(frozen=True)
class ExpandLimits:
    """Bounds on expansion, so that a small spec cannot ask for a huge graph.

    Attributes:
        max_nodes: node instances after unrolling every repeat and sub-graph:
            blocks, and also sub-graph instances and skipped nodes, which
            cost expansion time without adding a block.
        max_repeat: the largest ``repeat`` of one node.
        max_subgraph_depth: sub-graphs nested inside sub-graphs.
    """

    max_nodes: int = 100_000
    max_repeat: int = 10_000
    max_subgraph_depth: int = 32


@dataclass
class Expansion:
    """The flat graph of a spec, with every reference resolved to a real node or input."""

    nodes: list[FlatNode]
    outputs: dict[str, Ref]
    output_locations: dict[str, Location]
    params: dict[str, Any]


class _Scope:
    """The names visible to the nodes of one scope (the spec, or one sub-graph instance)."""

    def __init__(self, prefix: str, nodes: LocDict, inputs: dict[str, Ref], names: dict[str, Any]) -> None:
        self.prefix = prefix
        self.nodes = nodes
        self.inputs = inputs
        self.names = names

    def path(self, name: str) -> str:
        return f"{self.prefix}{name}"


class _Expander:
    def __init__(self, defines: Mapping[str, LocDict], global_names: dict[str, Any], limits: ExpandLimits) -> None:
        self.defines = defines
        self.global_names = global_names
        self.limits = limits
        self.nodes: list[FlatNode] = []
        self.aliases: dict[str, Ref] = {}
        self.port_aliases: dict[tuple[str, str], Ref] = {}
        self.subgraph_ports: dict[str, tuple[str, ...]] = {}
        """Each sub-graph instance path and its named outputs (empty for a single output)."""
        self.locations: dict[str, Location] = {}
        self.instances = 0

    # Values -------------------------------------------------------------

    def evaluate(self, value: Any, names: Mapping[str, Any], location: Location, node: str) -> Any:
        """Substitute every ``${...}`` in a value, returning plain dicts and lists."""
        if isinstance(value, str):
            if not has_expression(value):
                return value
            try:
                return substitute(value, names)
            except ExpressionError as error:
                raise SpecError(
                    f"cannot evaluate {short_repr(value)}: {error}",
                    location=location,
                    node=node or None,
                    hint="expressions may use params, 'index' inside a repeat, arithmetic and min/max/int/len",
                ) from None
        if isinstance(value, dict):
            return {
                k: self.evaluate(v, names, location_of(value, k) if isinstance(value, LocDict) else location, node)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self.evaluate(v, names, location_of(value, i) if isinstance(value, LocList) else location, node)
                for i, v in enumerate(value)
            ]
        return value

    # Scopes -------------------------------------------------------------

    def expand_scope(self, scope: _Scope, first_input: Ref, depth: int) -> Ref | None:
        """Expand every node of a scope; return the last node's output reference."""
        for name in scope.nodes:
            if name in scope.inputs:
                raise SpecError(
                    f"node name '{name}' is also the name of an input",
                    location=location_of(scope.nodes, name),
                    node=scope.path(name),
                    hint="rename the node or the input",
                )

        previous: Ref = first_input
        for name, raw in scope.nodes.items():
            self.expand_node(scope, name, raw, previous, depth)
            previous = Ref(scope.path(name))
        return previous

    def resolve_from(self, scope: _Scope, name: str, raw: LocDict, previous: Ref) -> list[Ref]:
        value = raw.get("from")
        location = location_of(raw, "from")
        if value is None:
            return [previous]
        items = value if isinstance(value, list) else [value]
        refs = []
        for item in items:
            item = self.evaluate(item, scope.names, location, scope.path(name))
            if not isinstance(item, str) or not item:
                raise SpecError(
                    f"'from' must name nodes, found {item!r}", location=location, node=scope.path(name)
                )
            base, _, port = item.partition(".")
            if base in scope.inputs:
                ref = scope.inputs[base]
                if port:
                    ref = Ref(ref.path, port) if ref.port is None else None  # type: ignore[assignment]
                    if ref is None:
                        raise SpecError(f"input '{base}' has no output named '{port}'", location=location, node=scope.path(name))
                refs.append(ref)
            elif base in scope.nodes:
                refs.append(Ref(scope.path(base), port or None))
            else:
                known = list(scope.nodes) + list(scope.inputs)
                close = difflib.get_close_matches(base, known, n=3)
                hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else f"known names: {', '.join(known)}"
                raise SpecError(
                    f"'from' names an unknown node '{base}'",
                    location=location,
                    node=scope.path(name),
                    expected="a node or input of the same scope",
                    found=base,
                    hint=hint,
                )
        return refs

    def expand_node(self, scope: _Scope, name: str, raw: LocDict, previous: Ref, depth: int) -> None:
        path = scope.path(name)
        location = location_of(scope.nodes, name)
        inputs = self.resolve_from(scope, name, raw, previous)

        repeat_raw = raw.get("repeat")
        if repeat_raw is None:
            self.count_instances(1, path, location)
            self.expand_instance(scope, name, raw, path, inputs, scope.names, depth)
            return

        count = self.evaluate(repeat_raw, scope.names, location_of(raw, "repeat"), path)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise SpecError(
                "'repeat' must be a non-negative integer",
                location=location_of(raw, "repeat"),
                node=path,
                expected="an integer >= 0",
                found=repr(count),
            )
        if count > self.limits.max_repeat:
            raise SpecError(
                f"'repeat' of {count} is more than the limit",
                location=location_of(raw, "repeat"),
                node=path,
                expected=f"at most {self.limits.max_repeat}",
                found=count,
                hint="raise ExpandLimits.max_repeat if this is intended",
            )
        self.count_instances(max(count, 1), path, location)
        if count == 0:
            self.alias(path, self.single_input(inputs, path, location, "a node repeated 0 times"), location)
            return
        for index in range(count):
            names = {**scope.names, "index": index}
            instance_inputs = inputs if index == 0 else [Ref(f"{path}.{index - 1}")]
            self.expand_instance(scope, name, raw, f"{path}.{index}", instance_inputs, names, depth)
        self.alias(path, Ref(f"{path}.{count - 1}"), location)

    def count_instances(self, count: int, path: str, location: Location) -> None:
        self.instances += count
        if self.instances > self.limits.max_nodes:
            raise SpecError(
                f"the spec expands to more than {self.limits.max_nodes} nodes",
                location=location,
                node=path,
                expected=f"at most {self.limits.max_nodes} node instances, sub-graph instances and skipped nodes included",
                hint="check 'repeat' counts, or raise ExpandLimits.max_nodes if this is intended",
            )

    def single_input(self, inputs: list[Ref], path: str, location: Location, what: str) -> Ref:
        if len(inputs) != 1:
            raise SpecError(
                f"{what} passes its input through, so it must have exactly one input",
                location=location,
                node=path,
                found=f"{len(inputs)} inputs",
            )
        return inputs[0]

    def alias(self, path: str, target: Ref, location: Location) -> None:
        self.aliases[path] = target
        self.locations[path] = location

    def expand_instance(
        self,
        scope: _Scope,
        name: str,
        raw: LocDict,
        path: str,
        inputs: list[Ref],
        names: dict[str, Any],
        depth: int,
    ) -> None:
        location = location_of(scope.nodes, name)
        when = self.evaluate(raw.get("when", True), names, location_of(raw, "when"), path)
        if not isinstance(when, bool):
            raise SpecError(
                "'when' must be true or false", location=location_of(raw, "when"), node=path, found=repr(when)
            )
        if not when:
            self.alias(path, self.single_input(inputs, path, location, "a node with 'when: false'"), location)
            return

        block = self.evaluate(raw["block"], names, location_of(raw, "block"), path)
        if not isinstance(block, str) or not block:
            raise SpecError("'block' must be a block name", location=location_of(raw, "block"), node=path, found=repr(block))
        args_raw = raw.get("args", LocDict())
        args = self.evaluate(args_raw, names, location_of(raw, "args"), path)
        arg_locations = {k: location_of(args_raw, k) for k in args_raw} if isinstance(args_raw, LocDict) else {}

        if block in self.defines:
            self.expand_subgraph(block, path, inputs, args, arg_locations, location, depth)
            return

        if len(self.nodes) >= self.limits.max_nodes:
            raise SpecError(
                f"the spec expands to more than {self.limits.max_nodes} nodes",
                location=location,
                node=path,
                hint="check 'repeat' counts, or raise ExpandLimits.max_nodes if this is intended",
            )
        self.nodes.append(FlatNode(path, block, args, inputs, location, arg_locations))
        self.locations[path] = location

    def expand_subgraph(
        self,
        block: str,
        path: str,
        inputs: list[Ref],
        args: dict[str, Any],
        arg_locations: dict[str, Location],
        location: Location,
        depth: int,
    ) -> None:
        if depth >= self.limits.max_subgraph_depth:
            raise SpecError(
                f"sub-graphs nest deeper than {self.limits.max_subgraph_depth} levels",
                location=location,
                node=path,
                hint=f"check whether sub-graph '{block}' uses itself",
            )
        define = self.defines[block]
        declared = define.get("params", {})
        values = self.bind_params(block, declared, args, arg_locations, location, path)

        input_names = list(define.get("inputs", ["input"]))
        if len(inputs) != len(input_names):
            raise SpecError(
                f"sub-graph '{block}' takes {len(input_names)} input(s) ({', '.join(input_names)})",
                location=location,
                node=path,
                expected=f"{len(input_names)} name(s) in 'from'",
                found=f"{len(inputs)}: {', '.join(map(str, inputs))}",
            )
        scope = _Scope(f"{path}.", define["nodes"], dict(zip(input_names, inputs)), {**self.global_names, **values})
        last = self.expand_scope(scope, inputs[0], depth + 1)

        outputs = define.get("outputs")
        outputs_location = location_of(define, "outputs")
        self.subgraph_ports[path] = tuple(outputs) if isinstance(outputs, dict) else ()
        if outputs is None:
            self.alias(path, last, location)
        elif isinstance(outputs, str):
            self.alias(path, self.scope_ref(scope, outputs, outputs_location), location)
        else:
            first = None
            for port, target in outputs.items():
                ref = self.scope_ref(scope, target, location_of(outputs, port))
                self.port_aliases[(path, port)] = ref
                first = first or ref
            self.alias(path, first, location)

    def scope_ref(self, scope: _Scope, text: str, location: Location) -> Ref:
        base, _, port = text.partition(".")
        if base in scope.inputs:
            return scope.inputs[base]
        if base not in scope.nodes:
            close = difflib.get_close_matches(base, list(scope.nodes), n=3)
            raise SpecError(
                f"output names an unknown node '{base}'",
                location=location,
                node=scope.prefix.rstrip(".") or None,
                hint=f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None,
            )
        return Ref(scope.path(base), port or None)

    def bind_params(
        self,
        block: str,
        declared: Mapping[str, Any],
        args: dict[str, Any],
        arg_locations: dict[str, Location],
        location: Location,
        path: str,
    ) -> dict[str, Any]:
        for key in args:
            if key not in declared:
                close = difflib.get_close_matches(key, list(declared), n=3)
                raise SpecError(
                    f"sub-graph '{block}' has no parameter '{key}'",
                    location=arg_locations.get(key, location),
                    node=path,
                    expected=f"one of: {', '.join(declared) or 'no parameters'}",
                    found=key,
                    hint=f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None,
                )
        values: dict[str, Any] = {}
        for key, default in declared.items():
            marker = _TYPE_MARKERS.get(default) if isinstance(default, str) else None
            if key in args:
                value = args[key]
                if marker is not None and (not isinstance(value, marker) or (isinstance(value, bool) and bool not in marker)):
                    raise SpecError(
                        f"parameter '{key}' of sub-graph '{block}' has the wrong type",
                        location=arg_locations.get(key, location),
                        node=path,
                        expected=default,
                        found=f"{value!r} ({type(value).__name__})",
                    )
                values[key] = value
            elif marker is not None:
                raise SpecError(
                    f"sub-graph '{block}' needs the parameter '{key}'",
                    location=location,
                    node=path,
                    expected=f"'{key}: <{default}>' in the node's args",
                )
            else:
                values[key] = self.evaluate(default, {**self.global_names, **values}, location, path)
        return values

    # References ---------------------------------------------------------

    def _raise_unknown_port(self, ref: Ref, user: str, location: Location) -> None:
        ports = self.subgraph_ports[ref.path]
        if not ports:
            raise SpecError(
                f"sub-graph instance '{ref.path}' has a single output, so '{ref}' names nothing",
                location=location,
                node=user,
                expected=f"'{ref.path}'",
                found=f"'{ref}'",
                hint="to read an inner node, list it in the sub-graph's 'outputs' and name that output",
            )
        close = difflib.get_close_matches(ref.port or "", list(ports), n=3)
        raise SpecError(
            f"sub-graph instance '{ref.path}' has no output named '{ref.port}'",
            location=location,
            node=user,
            expected=f"one of: {', '.join(ports)}",
            found=ref.port,
            hint=f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None,
        )

    def resolve(self, ref: Ref, user: str, location: Location) -> Ref:
        """Follow aliases until ``ref`` names a real node or a model input."""
        seen: list[str] = []
        while True:
            if ref.port is not None and ref.path in self.subgraph_ports and (ref.path, ref.port) not in self.port_aliases:
                self._raise_unknown_port(ref, user, location)
            if ref.port is not None and (ref.path, ref.port) in self.port_aliases:
                ref = self.port_aliases[(ref.path, ref.port)]
            elif ref.path in self.aliases:
                target = self.aliases[ref.path]
                if ref.port is not None and target.port is not None:
                    raise SpecError(
                        f"'{ref}' names an output of a node that already selects one ('{target}')",
                        location=location,
                        node=user,
                    )
                ref = Ref(target.path, ref.port or target.port)
            else:
                return ref
            seen.append(str(ref))
            if len(seen) > len(self.aliases) + len(self.port_aliases) + 1:
                raise SpecError(
                    "nodes that pass their input through form a cycle",
                    location=location,
                    node=user,
                    found=" -> ".join(seen[:10]),
                )


def expand(
    nodes: LocDict,
    defines: Mapping[str, LocDict],
    params: dict[str, Any],
    inputs: list[str],
    outputs: Any,
    outputs_location: Location,
    limits: ExpandLimits = ExpandLimits(),
) -> Expansion:
    """Expand the top-level ``nodes`` of a validated spec into a flat graph.

    Args:
        nodes: the spec's ``nodes`` mapping.
        defines: sub-graph definitions by name, the spec's and its includes'.
        params: the evaluated top-level params.
        inputs: the names of the model inputs.
        outputs: the spec's ``outputs`` entry (None, a name, a list or a mapping).
        outputs_location: where ``outputs`` was written.
        limits: bounds on the expanded size.
    """
    expander = _Expander(defines, params, limits)
    scope = _Scope("", nodes, {name: Ref(name) for name in inputs}, params)
    expander.expand_scope(scope, Ref(inputs[0]), depth=0)

    if outputs is None:
        wanted: dict[str, str] = {"output": list(nodes)[-1]}
    elif isinstance(outputs, str):
        wanted = {"output": outputs}
    elif isinstance(outputs, list):
        wanted = {item.partition(".")[0] if "." not in item else item.replace(".", "_"): item for item in outputs}
    else:
        wanted = dict(outputs)
    if not wanted:
        raise SpecError(
            "'outputs' is empty",
            location=outputs_location,
            expected="at least one output, such as 'outputs: {logits: fc}'",
        )
    output_refs: dict[str, Ref] = {}
    output_locations: dict[str, Location] = {}
    for out_name, target in wanted.items():
        where = location_of(outputs, out_name) if isinstance(outputs, LocDict) else outputs_location
        ref = expander.scope_ref(scope, target, where)
        output_refs[out_name] = expander.resolve(ref, f"outputs.{out_name}", where)
        output_locations[out_name] = where

    for node in expander.nodes:
        node.inputs = [expander.resolve(ref, node.path, node.location) for ref in node.inputs]
    return Expansion(expander.nodes, output_refs, output_locations, params)
