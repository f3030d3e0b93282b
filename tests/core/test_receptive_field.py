"""Theoretical receptive fields equal the input region that gradients reach."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

import cvgraph
from cvgraph.receptive import receptive_fields

layer = st.one_of(
    st.fixed_dictionaries(
        {
            "block": st.just("conv2d"),
            "args": st.fixed_dictionaries(
                {
                    "out_channels": st.just(2),
                    "kernel_size": st.integers(1, 5),
                    "stride": st.integers(1, 2),
                    "dilation": st.integers(1, 2),
                }
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "block": st.just("avgpool2d"),
            "args": st.fixed_dictionaries({"kernel_size": st.integers(1, 3), "stride": st.integers(1, 2)}),
        }
    ),
)


def _measured_extent(model: torch.nn.Module, size: int) -> tuple[int, int]:
    """Rows and columns of the input that the centre output pixel's gradient reaches."""
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    out = model(x)
    h, w = out.shape[-2:]
    out[0, :, h // 2, w // 2].sum().backward()
    reached = x.grad[0, 0].abs() > 0
    rows = reached.any(dim=1).nonzero()
    cols = reached.any(dim=0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@given(layers=st.lists(layer, min_size=1, max_size=5))
def test_receptive_field_matches_gradient_extent(layers):
    spec_data = {
        "name": "chain",
        "inputs": {"image": {"channels": 1}},
        "nodes": {f"n{i}": item for i, item in enumerate(layers)},
    }
    spec = cvgraph.load_spec(spec_data)
    size = 96
    report = cvgraph.infer_shapes(spec, {"image": f"1x1x{size}x{size}"})
    field = receptive_fields(spec, report)[report.graph.order[-1]]
    model = cvgraph.build(spec, input_shapes={"image": f"1x1x{size}x{size}"})
    # Positive weights, so that no gradient cancels inside the receptive field.
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.abs() + 0.01)

    assert field.size == _measured_extent(model, size)


def test_resnet50_final_feature_map_receptive_field():
    spec = cvgraph.load_spec("resnet50")
    report = cvgraph.infer_shapes(spec, {"image": "1x3x224x224"})
    fields = receptive_fields(spec, report)

    assert str(fields["conv1"]) == "7x7"
    assert str(fields["maxpool"]) == "11x11"
    assert fields["layer4.2.relu"].jump == (32, 32)
    assert str(fields["fc"]) == "global"
