"""Shape functions of the attention blocks and the head against real forward passes (hypothesis)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cvgraph
from cvgraph import BuildContext, FeatureMap, ShapeError, Vector

pytestmark = pytest.mark.usefixtures("attention_plugin")

CONTEXT = BuildContext(path="node")
SETTINGS = settings(max_examples=25, deadline=None)


def _block(name: str):
    return cvgraph.default_registry().block(f"attention:{name}")


@st.composite
def attention_cases(draw):
    channels = draw(st.integers(1, 48))
    reduction = draw(st.integers(1, channels))
    height = draw(st.integers(1, 12))
    width = draw(st.integers(1, 12))
    batch = draw(st.integers(1, 3))
    return batch, FeatureMap(channels, height, width), reduction


@SETTINGS
@given(attention_cases())
def test_se_shape_matches_forward(case):
    batch, shape, reduction = case
    block = _block("se")
    args = block.Args(reduction=reduction)

    inferred = block.infer([shape], args)
    module = block.build([shape], args, CONTEXT)
    output = module(torch.randn(batch, shape.channels, shape.height, shape.width))

    assert inferred == shape
    assert tuple(output.shape) == (batch, *inferred.torch_size())
    assert sum(p.numel() for p in module.parameters()) == block.num_params([shape], args)


@SETTINGS
@given(attention_cases(), st.sampled_from([1, 3, 5, 7]))
def test_cbam_shape_matches_forward(case, kernel_size):
    batch, shape, reduction = case
    block = _block("cbam")
    args = block.Args(reduction=reduction, spatial_kernel_size=kernel_size)

    inferred = block.infer([shape], args)
    module = block.build([shape], args, CONTEXT)
    output = module(torch.randn(batch, shape.channels, shape.height, shape.width))

    assert inferred == shape
    assert tuple(output.shape) == (batch, *inferred.torch_size())
    assert sum(p.numel() for p in module.parameters()) == block.num_params([shape], args)


@SETTINGS
@given(
    st.one_of(
        st.builds(FeatureMap, st.integers(1, 64), st.integers(1, 9), st.integers(1, 9)),
        st.builds(Vector, st.integers(1, 64)),
    ),
    st.integers(1, 20),
    st.integers(1, 3),
)
def test_classifier_shape_matches_forward(shape, num_classes, batch):
    block = _block("classifier")
    args = block.Args(num_classes=num_classes, dropout=0.5)

    inferred = block.infer([shape], args)
    module = block.build([shape], args, CONTEXT).eval()
    output = module(torch.randn(batch, *shape.torch_size()))

    assert inferred == Vector(num_classes)
    assert tuple(output.shape) == (batch, num_classes)
    assert sum(p.numel() for p in module.parameters()) == block.num_params([shape], args)


def test_se_gates_each_channel():
    torch.manual_seed(0)
    block = _block("se")
    module = block.build([FeatureMap(8, 5, 5)], block.Args(reduction=2), CONTEXT)
    x = torch.randn(2, 8, 5, 5)

    squeezed = x.mean(dim=(2, 3))
    hidden = torch.relu(squeezed @ module.fc1.weight.flatten(1).T + module.fc1.bias)
    gate = torch.sigmoid(hidden @ module.fc2.weight.flatten(1).T + module.fc2.bias)

    torch.testing.assert_close(module(x), x * gate[:, :, None, None])


def test_cbam_zero_weights_quarter_input():
    """With zero weights both gates are sigmoid(0) = 0.5, so CBAM returns x / 4."""
    block = _block("cbam")
    module = block.build([FeatureMap(8, 6, 6)], block.Args(reduction=2), CONTEXT)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.zero_()
    x = torch.randn(3, 8, 6, 6)

    torch.testing.assert_close(module(x), x / 4)


def test_cbam_spatial_gate_varies_over_pixels():
    torch.manual_seed(0)
    block = _block("cbam")
    module = block.build([FeatureMap(4, 6, 6)], block.Args(reduction=1), CONTEXT)
    x = torch.rand(1, 4, 6, 6)

    ratio = module(x) / x

    assert ratio.std(dim=(2, 3)).min() > 0


def _spec(block: str, args: dict, channels: int = 8) -> dict:
    return {
        "name": "attention_check",
        "inputs": {"image": {"channels": channels}},
        "nodes": {"attention": {"block": block, "args": args}},
    }


@pytest.mark.parametrize("block", ["se", "cbam"])
def test_reduction_above_channels_is_shape_error(block):
    with pytest.raises(ShapeError) as caught:
        cvgraph.infer_shapes(_spec(block, {"reduction": 16}), {"image": "1x8x4x4"})

    assert caught.value.node == "attention"
    assert "reduction 16 leaves no hidden channel for an input of 8 channels" in caught.value.message
    assert caught.value.hint == "set 'reduction' to at most 8"


def test_cbam_even_kernel_is_spec_error():
    with pytest.raises(cvgraph.SpecError) as caught:
        cvgraph.load_spec(_spec("cbam", {"spatial_kernel_size": 4, "reduction": 2}))

    assert "args of block 'cbam'" in caught.value.message
    assert "spatial_kernel_size must be odd" in caught.value.message


def test_se_on_vector_is_shape_error():
    spec = {
        "name": "vector_se",
        "inputs": {"image": {"channels": 8}},
        "nodes": {"pool": {"block": "global_avgpool"}, "se": {"block": "se", "args": {"reduction": 2}}},
    }

    with pytest.raises(ShapeError, match="input must be a feature map") as caught:
        cvgraph.infer_shapes(spec, {"image": "1x8x4x4"})
    assert caught.value.node == "se"
