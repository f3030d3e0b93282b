"""Per-node tables of a spec: block, output shape, parameters and multiply-accumulates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

import torch

from ._block_calls import calling_block
from .compiler import compile_spec
from .infer import ShapeReport, infer_shapes
from .limits import ResourceLimits
from .pipeline import Spec
from .receptive import receptive_fields
from .shapes import describe

__all__ = ["NodeRow", "Summary", "summarize"]


@dataclass(frozen=True)
class NodeRow:
    """One node of a summary.

    Attributes:
        path: the node path.
        block: the block name.
        output: the output shape, as text.
        params: trainable and frozen parameters of the node's module.
        macs: multiply-accumulates for the whole batch.
        receptive_field: the input pixels one output pixel depends on ("35x35"), or "global".
    """

    path: str
    block: str
    output: str
    params: int
    macs: int
    receptive_field: str = ""


@dataclass(frozen=True)
class Summary:
    name: str
    batch: int
    inputs: dict[str, str]
    outputs: dict[str, str]
    rows: list[NodeRow]

    @property
    def total_params(self) -> int:
        return sum(row.params for row in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(row.macs for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "batch": self.batch,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "nodes": [row.__dict__ for row in self.rows],
            "total_params": self.total_params,
            "total_macs": self.total_macs,
        }

    def to_text(self) -> str:
        widths = [max(len("node"), *(len(r.path) for r in self.rows)), max(len("block"), *(len(r.block) for r in self.rows))]
        shape_width = max(len("output"), *(len(r.output) for r in self.rows))
        header = (
            f"{'node':<{widths[0]}}  {'block':<{widths[1]}}  {'output':<{shape_width}}  "
            f"{'params':>12}  {'MACs':>15}  {'receptive field':>15}"
        )
        lines = [f"{self.name}: inputs {', '.join(f'{k} {v}' for k, v in self.inputs.items())}", header, "-" * len(header)]
        for row in self.rows:
            lines.append(
                f"{row.path:<{widths[0]}}  {row.block:<{widths[1]}}  {row.output:<{shape_width}}  "
                f"{row.params:>12,}  {row.macs:>15,}  {row.receptive_field:>15}"
            )
        lines.append("-" * len(header))
        lines.append(f"total parameters: {self.total_params:,}")
        scaled = f"{self.total_macs / 1e9:.2f} G" if self.total_macs >= 1e9 else f"{self.total_macs / 1e6:.2f} M"
        lines.append(f"total multiply-accumulates: {self.total_macs:,} ({scaled}) for batch {self.batch}")
        lines.append(f"outputs: {', '.join(f'{k} {v}' for k, v in self.outputs.items())}")
        return "\n".join(lines)


def summarize(
    spec: Spec, input_shapes: Mapping[str, Any] | None = None, batch: int = 1, *, limits: ResourceLimits | None = None
) -> Summary:
    """Summarize a spec for the given input shapes.

    Parameters are counted on modules built on the meta device, so no weight
    memory is allocated. The spec must still fit ``limits`` (for ``batch``
    samples), so that a summary never describes a model that cannot be built.

    Raises:
        ResourceError: when the model exceeds the budget.
    """
    report: ShapeReport = infer_shapes(spec, input_shapes)
    limits = replace(limits or ResourceLimits.from_env(), batch_size=batch)
    with torch.device("meta"):
        model = compile_spec(spec, report=report, limits=limits)
    fields = receptive_fields(spec, report)
    rows = []
    for path in report.graph.order:
        node = spec.node_index[path]
        block = spec.blocks[path]
        module = model.get_submodule(path)
        params = sum(p.numel() for p in module.parameters())
        in_shapes = [report.shape_of(ref) for ref in node.inputs]
        with calling_block(block, "failed to count its multiply-accumulates", location=node.location, node=path):
            macs = block.macs(in_shapes, report.nodes[path], spec.args[path]) * batch
        rows.append(NodeRow(path, block.name, describe(report.nodes[path]), params, macs, str(fields[path])))
    return Summary(
        name=spec.name,
        batch=batch,
        inputs={k: describe(v) for k, v in report.inputs.items()},
        outputs={k: describe(v) for k, v in report.outputs.items()},
        rows=rows,
    )
