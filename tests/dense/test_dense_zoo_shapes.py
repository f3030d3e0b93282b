"""Inferred shapes against real forward passes for every spec in the zoo."""

from __future__ import annotations

import pytest
import torch
from torch import fx

import cvgraph
from cvgraph.errors import SpecError
from cvgraph.pipeline import load_spec
from cvgraph.registry import default_registry
from cvgraph.zoo import zoo_names

CANDIDATE_SIZES = (64, 32, 96, 128, 188, 192, 224)
"""Input sizes tried in order; the first that a spec accepts is used (U-Net needs 188)."""


class _RecordingInterpreter(fx.Interpreter):
    """Runs a GraphModule and keeps each module call's output by node path."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.outputs: dict[str, object] = {}

    def call_module(self, target, args, kwargs):  # type: ignore[no-untyped-def]
        result = super().call_module(target, args, kwargs)
        self.outputs[target] = result
        return result


def _small_input(spec) -> dict[str, str]:
    name, declared = next(iter(spec.inputs.items()))
    for size in CANDIDATE_SIZES:
        text = f"1x{declared.channels}x{declared.height or size}x{declared.width or size}"
        try:
            cvgraph.infer_shapes(spec, {name: text})
        except SpecError:
            continue
        return {name: text}
    raise AssertionError(f"no candidate size fits spec {spec.name}")


def _real_size(value: torch.Tensor) -> tuple[int, ...]:
    return tuple(value.shape[1:])


@pytest.mark.parametrize("spec_name", zoo_names(default_registry()))
def test_inferred_shapes_match_forward(spec_name):
    spec = load_spec(spec_name)
    sizes = _small_input(spec)
    model = cvgraph.build(spec, input_shapes=sizes).eval()
    report = model.cvgraph.shapes
    inputs = [torch.randn(*(int(d) for d in sizes[name].split("x"))) for name in spec.inputs]

    interpreter = _RecordingInterpreter(model)
    with torch.no_grad():
        interpreter.run(*inputs)

    assert set(interpreter.outputs) == set(report.graph.order)
    for path in report.graph.order:
        inferred = report.nodes[path]
        real = interpreter.outputs[path]
        if isinstance(inferred, dict):
            assert len(real) == len(inferred), path
            for (port, shape), tensor in zip(inferred.items(), real):
                assert shape.torch_size() == _real_size(tensor), f"{path}.{port}"
        else:
            assert inferred.torch_size() == _real_size(real), path


def test_zoo_lists_dense_specs():
    names = zoo_names(default_registry())
    for name in ("fcn_resnet50", "resnet50_fpn", "unet", "unet_padded", "segnet", "resnet50_bifpn"):
        assert name in names
