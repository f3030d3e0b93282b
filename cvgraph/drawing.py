"""Text drawings of a spec's graph: Mermaid flowcharts and Graphviz dot."""

from __future__ import annotations

import re

from .infer import ShapeReport
from .pipeline import Spec
from .shapes import describe

__all__ = ["to_mermaid", "to_dot"]


def _node_id(path: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", path)


def _edges(spec: Spec, report: ShapeReport) -> list[tuple[str, str, str]]:
    edges = []
    for path in report.graph.order:
        for ref in spec.node_index[path].inputs:
            edges.append((ref.path, path, describe(report.shape_of(ref))))
    return edges


def to_mermaid(spec: Spec, report: ShapeReport) -> str:
    """Return a Mermaid ``flowchart`` of the used nodes, edges labelled with shapes."""
    lines = ["flowchart TD"]
    for name in spec.inputs:
        lines.append(f'  {_node_id(name)}(["{name}: {describe(report.inputs[name])}"])')
    for path in report.graph.order:
        lines.append(f'  {_node_id(path)}["{path}<br/>{spec.blocks[path].name}"]')
    for source, target, label in _edges(spec, report):
        lines.append(f'  {_node_id(source)} -->|"{label}"| {_node_id(target)}')
    for name, ref in spec.outputs.items():
        lines.append(f'  {_node_id("out_" + name)}(["{name}: {describe(report.outputs[name])}"])')
        lines.append(f"  {_node_id(ref.path)} --> {_node_id('out_' + name)}")
    return "\n".join(lines)


def to_dot(spec: Spec, report: ShapeReport) -> str:
    """Return a Graphviz ``digraph`` of the used nodes, edges labelled with shapes."""
    lines = [f'digraph "{spec.name}" {{', "  rankdir=TB;", "  node [shape=box, fontname=Helvetica];"]
    for name in spec.inputs:
        lines.append(f'  {_node_id(name)} [shape=oval, label="{name}\\n{describe(report.inputs[name])}"];')
    for path in report.graph.order:
        lines.append(f'  {_node_id(path)} [label="{path}\\n{spec.blocks[path].name}"];')
    for source, target, label in _edges(spec, report):
        lines.append(f'  {_node_id(source)} -> {_node_id(target)} [label="{label}"];')
    for name, ref in spec.outputs.items():
        lines.append(f'  {_node_id("out_" + name)} [shape=oval, label="{name}\\n{describe(report.outputs[name])}"];')
        lines.append(f"  {_node_id(ref.path)} -> {_node_id('out_' + name)};")
    lines.append("}")
    return "\n".join(lines)
