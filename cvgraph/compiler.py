"""The compiler: block modules, nested by node path, called from generated fx code.

Every used node becomes a submodule at its path (``layer1.0.conv1``), so
state_dict keys follow the spec's node names. The forward pass is a
``torch.fx.Graph`` with one ``call_module`` per node in topological order,
turned into Python source by fx: straight-line code with no interpreter
loop, which ``torch.compile``, ``torch.export`` and ONNX export accept.
"""

from __future__ import annotations

import keyword
import logging
import operator
from dataclasses import dataclass
from typing import Any, Mapping

from torch import fx, nn

from ._block_calls import BLOCK_BUG_HINT, calling_block
from ._gc import without_gc
from .block import BuildContext
from .errors import SpecError
from .expand import Ref
from .infer import ShapeReport, infer_shapes
from .limits import ResourceEstimate, ResourceLimits, check_resources
from .pipeline import Spec

__all__ = ["ModelInfo", "compile_spec", "model_info", "check_buildable"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """Facts about the spec that a compiled model carries as ``module.cvgraph``.

    Attributes:
        name: the spec's name.
        fingerprint: the spec's fingerprint, written into weights files.
        input_names: the model inputs in ``forward`` argument order.
        output_names: the model outputs; one output is returned as a tensor,
            several as a dict.
        shapes: the inferred shapes the model was built for.
        optimized: the inference optimizations applied (such as ``fold_bn``).
    """

    name: str
    fingerprint: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    shapes: ShapeReport
    optimized: tuple[str, ...] = ()


class SpecContainer(nn.Module):
    """A module that only groups the nodes of one sub-graph instance or repeat."""


def model_info(module: nn.Module) -> ModelInfo:
    """Return the :class:`ModelInfo` of a model built by cvgraph.

    Raises:
        TypeError: when the module was not built by cvgraph.
    """
    info = getattr(module, "cvgraph", None)
    if not isinstance(info, ModelInfo):
        raise TypeError(f"{type(module).__name__} was not built by cvgraph (it has no 'cvgraph' ModelInfo)")
    return info


_RESERVED_ATTRIBUTES = frozenset(dir(fx.GraphModule(nn.Module(), fx.Graph())))
"""Attributes of a GraphModule and of nn.Module: a submodule cannot take these names."""


def _check_names(spec: Spec, report: ShapeReport) -> None:
    """Reject names that cannot become a forward argument or a submodule attribute.

    Raises:
        SpecError: for an input named after a Python keyword or ``self``, and
            for a node path part that is a keyword or an nn.Module attribute.
    """
    for name in spec.inputs:
        if keyword.iskeyword(name) or name == "self":
            raise SpecError(
                f"input name '{name}' cannot be a forward() argument",
                location=spec.location(name),
                found=name,
                hint="rename the input; Python keywords and 'self' are not allowed",
            )
    for path in report.graph.order:
        for part in path.split("."):
            # fx names the forward's first argument 'self', so a node called 'self' would shadow it.
            if keyword.iskeyword(part) or part in _RESERVED_ATTRIBUTES or part == "self":
                raise SpecError(
                    f"node name '{part}' clashes with a Python keyword, 'self' or an attribute of torch.nn.Module",
                    location=spec.location(path),
                    node=path,
                    found=part,
                    hint=f"rename the node, for example to '{part}_'",
                )


def check_buildable(spec: Spec, report: ShapeReport, limits: ResourceLimits | None = None) -> ResourceEstimate:
    """Run the checks of :func:`compile_spec` that need no module: names and the resource budget.

    Returns:
        The resource estimate.

    Raises:
        SpecError: for names that cannot become attributes.
        ResourceError: when the estimate exceeds ``limits``.
    """
    _check_names(spec, report)
    return check_resources(spec, report, limits)


def _place(root: nn.Module, path: str, module: nn.Module) -> None:
    parent = root
    *containers, leaf = path.split(".")
    for part in containers:
        child = parent._modules.get(part)
        if child is None:
            child = SpecContainer()
            parent.add_module(part, child)
        parent = child
    parent.add_module(leaf, module)


def _inplace_plan(spec: Spec, report: ShapeReport) -> dict[str, bool]:
    """Decide for each node whether it may overwrite its first input.

    Values that share memory (a node's output and the input of an in-place or
    view node) form one group. A node may write in place when three things
    hold. It is the only reader of its group that does not itself alias the
    group. The group is not a model input. Autograd keeps none of the group's
    memory for the backward pass. Readers not decided yet count as readers,
    so the plan errs toward copying.
    """
    readers: dict[str, list[str]] = {}
    for path in report.graph.order:
        for ref in spec.node_index[path].inputs:
            readers.setdefault(ref.path, []).append(path)
    for name, ref in spec.outputs.items():
        readers.setdefault(ref.path, []).append(f"<output {name}>")

    root: dict[str, str] = {name: name for name in spec.inputs}
    members: dict[str, list[str]] = {name: [name] for name in spec.inputs}
    aliasing: set[str] = set()
    saved: set[str] = set()
    plan: dict[str, bool] = {}
    for path in report.graph.order:
        block = spec.blocks[path]
        inputs = spec.node_index[path].inputs
        first = inputs[0] if inputs else None
        group = root[first.path] if first is not None and first.port is None else None

        allowed = False
        if group is not None and group not in spec.inputs and group not in saved:
            uses = sum(1 for value in members[group] for reader in readers.get(value, []) if reader not in aliasing)
            allowed = uses == 1
        plan[path] = allowed

        writes_in_place = allowed and block.inplace
        if group is not None and (writes_in_place or block.view_of_input):
            root[path] = group
            aliasing.add(path)
        else:
            root[path] = path
        members.setdefault(root[path], []).append(path)
        if block.saves_output:
            saved.add(root[path])
    return plan


def _build_modules(spec: Spec, report: ShapeReport) -> nn.Module:
    root = nn.Module()
    plan = _inplace_plan(spec, report)
    for path in report.graph.order:
        node = spec.node_index[path]
        block = spec.blocks[path]
        in_shapes = [report.shape_of(ref) for ref in node.inputs]
        context = BuildContext(path=path, inplace_ok=plan[path])
        with calling_block(block, "failed to build", location=node.location, node=path, inputs=in_shapes):
            module = block.build(in_shapes, spec.args[path], context)
        if not isinstance(module, nn.Module):
            raise SpecError(
                f"block '{block.name}' built {type(module).__name__}, not an nn.Module",
                location=node.location,
                node=path,
                hint=BLOCK_BUG_HINT,
            )
        _place(root, path, module)
    return root


def _emit(spec: Spec, report: ShapeReport, root: nn.Module) -> fx.GraphModule:
    graph = fx.Graph()
    values: dict[str, fx.Node] = {name: graph.placeholder(name) for name in spec.inputs}
    selected: dict[Ref, fx.Node] = {}

    def value_of(ref: Ref) -> fx.Node:
        if ref.port is None:
            return values[ref.path]
        if ref not in selected:
            index = spec.blocks[ref.path].outputs.index(ref.port)  # type: ignore[union-attr]
            selected[ref] = graph.call_function(operator.getitem, (values[ref.path], index))
        return selected[ref]

    for path in report.graph.order:
        node = spec.node_index[path]
        values[path] = graph.call_module(path, tuple(value_of(ref) for ref in node.inputs))

    outputs = {name: value_of(ref) for name, ref in spec.outputs.items()}
    graph.output(next(iter(outputs.values())) if len(outputs) == 1 else outputs)
    class_name = "".join(part.capitalize() for part in spec.name.split("_")) or "Model"
    return fx.GraphModule(root, graph, class_name=class_name)


@without_gc
def compile_spec(
    spec: Spec,
    input_shapes: Mapping[str, Any] | None = None,
    *,
    report: ShapeReport | None = None,
    limits: ResourceLimits | None = None,
) -> fx.GraphModule:
    """Build the modules of a spec and emit its forward pass.

    Args:
        spec: a loaded spec.
        input_shapes: input sizes to check the model against (default: the spec's).
        report: shapes already inferred for this spec.
        limits: the parameter and activation budget, checked before any module
            is built (default: :meth:`ResourceLimits.from_env`).

    Returns:
        A ``torch.fx.GraphModule`` whose ``forward`` takes the inputs in spec
        order and returns the output tensor, or a dict for several outputs.

    Raises:
        SpecError: for names that cannot become attributes, and blocks that
            fail to build.
        ResourceError: when the estimated parameters or activations exceed
            ``limits``.
    """
    report = report or infer_shapes(spec, input_shapes)
    check_buildable(spec, report, limits)
    root = _build_modules(spec, report)
    module = _emit(spec, report, root)
    module.cvgraph = ModelInfo(  # type: ignore[assignment]
        name=spec.name,
        fingerprint=spec.fingerprint,
        input_names=tuple(spec.inputs),
        output_names=tuple(spec.outputs),
        shapes=report,
    )
    logger.debug("compiled %s: %d nodes", spec.name, len(report.graph.order))
    return module
