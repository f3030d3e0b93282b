"""The spec as a networkx graph: arity, output names, cycles and unused nodes."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import networkx as nx

from .errors import SpecError
from .expand import Ref
from .pipeline import Spec

__all__ = ["SpecGraph", "build_graph", "UnusedNodeWarning"]


class UnusedNodeWarning(UserWarning):
    """A node that no output depends on; it is left out of the model."""


@dataclass
class SpecGraph:
    """The checked graph of a spec.

    Attributes:
        graph: a DiGraph whose nodes are input names and node paths; each edge
            stores the input ``positions`` it feeds.
        order: the used node paths in topological order (inputs excluded).
        unused: node paths that no output depends on.
    """

    graph: nx.DiGraph
    order: list[str]
    unused: list[str]


def _canonical_ref(spec: Spec, ref: Ref, user: str) -> Ref:
    """Check the output name of a reference; give multi-output nodes their first output by default."""
    node = spec.node_index.get(ref.path)
    if node is None:
        if ref.path in spec.inputs:
            if ref.port is not None:
                raise SpecError(
                    f"input '{ref.path}' has no output named '{ref.port}'",
                    location=spec.location(user),
                    node=user,
                )
            return ref
        raise SpecError(f"reference to an unknown node '{ref.path}'", location=spec.location(user), node=user)

    block = spec.blocks[ref.path]
    if block.outputs is None:
        if ref.port is not None:
            raise SpecError(
                f"node '{ref.path}' (block '{block.name}') has one output, so '{ref}' names nothing",
                location=spec.location(user),
                node=user,
                expected=f"'{ref.path}'",
                found=f"'{ref}'",
            )
        return ref
    if ref.port is None:
        return Ref(ref.path, block.outputs[0])
    if ref.port not in block.outputs:
        raise SpecError(
            f"node '{ref.path}' (block '{block.name}') has no output named '{ref.port}'",
            location=spec.location(user),
            node=user,
            expected=f"one of: {', '.join(block.outputs)}",
            found=ref.port,
        )
    return ref


def build_graph(spec: Spec, *, warn_unused: bool = True) -> SpecGraph:
    """Build and check the graph of an expanded spec.

    Raises:
        SpecError: for a wrong number of inputs, an unknown output name or a cycle.
    """
    graph = nx.DiGraph()
    for name in spec.inputs:
        graph.add_node(name, kind="input")
    for node in spec.nodes:
        graph.add_node(node.path, kind="block")

    for node in spec.nodes:
        block = spec.blocks[node.path]
        low, high = block.arity
        count = len(node.inputs)
        if count < low or (high is not None and count > high):
            if low == high:
                expected = str(low)
            elif high is not None:
                expected = f"{low} to {high}"
            else:
                expected = f"at least {low}"
            raise SpecError(
                f"block '{block.name}' takes {expected} input(s)",
                location=node.location,
                node=node.path,
                expected=f"{expected} name(s) in 'from'",
                found=f"{count}: {', '.join(map(str, node.inputs))}",
            )
        node.inputs = [_canonical_ref(spec, ref, node.path) for ref in node.inputs]
        for position, ref in enumerate(node.inputs):
            if graph.has_edge(ref.path, node.path):
                graph.edges[ref.path, node.path]["positions"].append(position)
            else:
                graph.add_edge(ref.path, node.path, positions=[position])

    for name, ref in list(spec.outputs.items()):
        spec.outputs[name] = _canonical_ref(spec, ref, f"outputs.{name}")

    if not nx.is_directed_acyclic_graph(graph):
        cycle = [edge[0] for edge in nx.find_cycle(graph)]
        first = min(cycle, key=lambda path: spec.nodes.index(spec.node_index[path]))
        raise SpecError(
            f"the graph has a cycle through {len(cycle)} node(s)",
            location=spec.location(first),
            node=first,
            found=" -> ".join([*cycle, cycle[0]]),
            hint="a node's 'from' must not depend on the node itself",
        )

    needed: set[str] = set()
    for ref in spec.outputs.values():
        needed.add(ref.path)
        needed.update(nx.ancestors(graph, ref.path))
    unused = [node.path for node in spec.nodes if node.path not in needed]
    if warn_unused and unused:
        shown = ", ".join(unused[:5]) + (f" and {len(unused) - 5} more" if len(unused) > 5 else "")
        where = spec.location(unused[0])
        # Point the warning at the spec line rather than at this module.
        warnings.warn_explicit(
            f"{where}: no output depends on node(s) {shown}, so they are left out of the model",
            UnusedNodeWarning,
            filename=where.file or "<spec>",
            lineno=where.line or 0,
            module="cvgraph.spec",
        )

    # Spec order breaks ties, so that a branch runs where the spec writes it and
    # fewer intermediate feature maps are alive at once.
    position = {name: i for i, name in enumerate(spec.inputs)}
    position.update({node.path: len(position) + i for i, node in enumerate(spec.nodes)})
    order = [
        path
        for path in nx.lexicographical_topological_sort(graph, key=position.__getitem__)
        if path in needed and path not in spec.inputs
    ]
    return SpecGraph(graph, order, unused)
