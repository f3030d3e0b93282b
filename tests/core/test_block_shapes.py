"""Shape functions of the built-in blocks equal the real output shapes of torch, over generated args."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from cvgraph.block import BuildContext
from cvgraph.errors import ShapeError, SpecError
from cvgraph.registry import new_registry
from cvgraph.shapes import FeatureMap, Vector
from cvgraph.validation import validate_model

REGISTRY = new_registry(entry_points=False)
CONTEXT = BuildContext(path="node")


def _run(block_name: str, args: dict, shapes: list):
    """Return (inferred shape, real output shape) for one block, or raise SpecError."""
    block = REGISTRY.block(block_name)
    valid = validate_model(block.Args, args)
    inferred = block.infer(shapes, valid)
    module = block.build(shapes, valid, CONTEXT).eval()
    inputs = [torch.randn(1, *s.torch_size()) for s in shapes]
    with torch.no_grad():
        out = module(*inputs)
    return inferred, out


def _assert_same(inferred, out):
    assert (1, *inferred.torch_size()) == tuple(out.shape)


pairs = st.tuples(st.integers(1, 5), st.integers(1, 5))


@given(
    in_groups=st.integers(1, 4),
    out_groups=st.integers(1, 4),
    groups=st.integers(1, 3),
    kernel=pairs,
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    size=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    bias=st.booleans(),
)
def test_conv2d_shape_matches_torch(in_groups, out_groups, groups, kernel, stride, padding, dilation, size, bias):
    x = FeatureMap(in_groups * groups, *size)
    args = {
        "out_channels": out_groups * groups,
        "kernel_size": list(kernel),
        "stride": list(stride),
        "padding": list(padding),
        "dilation": list(dilation),
        "groups": groups,
        "bias": bias,
    }
    too_small = any(size[i] + 2 * padding[i] < dilation[i] * (kernel[i] - 1) + 1 for i in range(2))
    if too_small:
        with pytest.raises(ShapeError):
            _run("conv2d", args, [x])
        return
    inferred, out = _run("conv2d", args, [x])
    _assert_same(inferred, out)
    assert inferred.stride == stride[0]


@given(
    kernel=pairs,
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    ceil_mode=st.booleans(),
    size=st.tuples(st.integers(1, 30), st.integers(1, 30)),
)
def test_maxpool2d_shape_matches_torch_with_ceil_mode(kernel, stride, padding, dilation, ceil_mode, size):
    spans = [dilation[i] * (kernel[i] - 1) + 1 for i in range(2)]
    assume(all(padding[i] <= spans[i] // 2 for i in range(2)))
    # torch also requires padding <= kernel_size // 2 for max pooling.
    assume(all(padding[i] <= kernel[i] // 2 for i in range(2)))
    assume(all(size[i] + 2 * padding[i] >= spans[i] for i in range(2)))
    args = {
        "kernel_size": list(kernel),
        "stride": list(stride),
        "padding": list(padding),
        "dilation": list(dilation),
        "ceil_mode": ceil_mode,
    }
    inferred, out = _run("maxpool2d", args, [FeatureMap(2, *size)])
    _assert_same(inferred, out)


@given(
    kernel=pairs,
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    size=st.tuples(st.integers(1, 30), st.integers(1, 30)),
)
def test_avgpool2d_shape_matches_torch_with_ceil_mode(kernel, stride, padding, ceil_mode, count_include_pad, size):
    assume(all(padding[i] <= kernel[i] // 2 for i in range(2)))
    assume(all(size[i] + 2 * padding[i] >= kernel[i] for i in range(2)))
    args = {
        "kernel_size": list(kernel),
        "stride": list(stride),
        "padding": list(padding),
        "ceil_mode": ceil_mode,
        "count_include_pad": count_include_pad,
    }
    inferred, out = _run("avgpool2d", args, [FeatureMap(3, *size)])
    _assert_same(inferred, out)


@given(
    kernel=pairs,
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    groups=st.integers(1, 3),
    size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
)
def test_conv_transpose2d_shape_matches_torch_with_output_padding(kernel, stride, padding, dilation, extra, groups, size):
    output_padding = [extra[i] % max(stride[i], dilation[i]) for i in range(2)]
    args = {
        "out_channels": 2 * groups,
        "kernel_size": list(kernel),
        "stride": list(stride),
        "padding": list(padding),
        "output_padding": output_padding,
        "dilation": list(dilation),
        "groups": groups,
    }
    sizes = [(size[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + output_padding[i] + 1 for i in range(2)]
    if min(sizes) < 1:
        with pytest.raises(ShapeError):
            _run("conv_transpose2d", args, [FeatureMap(groups, *size)])
        return
    inferred, out = _run("conv_transpose2d", args, [FeatureMap(groups, *size)])
    _assert_same(inferred, out)


def test_conv_transpose2d_rejects_output_padding_not_below_stride():
    with pytest.raises(SpecError, match="output_padding"):
        _run("conv_transpose2d", {"out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 2}, [FeatureMap(2, 4, 4)])


@given(out=st.tuples(st.integers(1, 6), st.integers(1, 6)), size=st.tuples(st.integers(1, 20), st.integers(1, 20)))
def test_adaptive_avgpool2d_shape_matches_torch(out, size):
    inferred, real = _run("adaptive_avgpool2d", {"output_size": list(out)}, [FeatureMap(4, *size)])
    _assert_same(inferred, real)


@given(channels=st.integers(1, 8), size=st.tuples(st.integers(1, 9), st.integers(1, 9)), features=st.integers(1, 20))
def test_flatten_and_linear_shapes_match_torch(channels, size, features):
    flat, real = _run("flatten", {}, [FeatureMap(channels, *size)])
    _assert_same(flat, real)

    inferred, real = _run("linear", {"out_features": features}, [flat])
    _assert_same(inferred, real)


@given(counts=st.lists(st.integers(1, 5), min_size=1, max_size=4), size=st.tuples(st.integers(1, 9), st.integers(1, 9)))
def test_concat_shape_matches_torch(counts, size):
    inferred, real = _run("concat", {}, [FeatureMap(c, *size) for c in counts])
    _assert_same(inferred, real)


@pytest.mark.parametrize(
    "name, args",
    [
        ("relu", {}),
        ("relu6", {}),
        ("leaky_relu", {"negative_slope": 0.2}),
        ("prelu", {}),
        ("sigmoid", {}),
        ("tanh", {}),
        ("silu", {}),
        ("gelu", {}),
        ("softmax", {}),
        ("identity", {}),
        ("dropout", {"p": 0.1}),
        ("batchnorm2d", {}),
        ("groupnorm", {"num_groups": 2}),
    ],
)
def test_shape_preserving_block_keeps_shape(name, args):
    inferred, real = _run(name, args, [FeatureMap(4, 5, 7)])
    _assert_same(inferred, real)


def test_add_rejects_different_channels_with_both_shapes():
    with pytest.raises(ShapeError) as caught:
        _run("add", {}, [FeatureMap(4, 8, 8), FeatureMap(8, 8, 8)])

    assert "FeatureMap(4x8x8)" in str(caught.value.expected)
    assert "FeatureMap(8x8x8)" in str(caught.value.found)


def test_global_avgpool_gives_vector():
    inferred, real = _run("global_avgpool", {}, [FeatureMap(6, 5, 3)])
    assert inferred == Vector(6)
    _assert_same(inferred, real)
