"""Shape functions of the dense-prediction blocks against real torch forward passes (hypothesis)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from cvgraph.block import BuildContext
from cvgraph.blocks.conv import Conv2d, ConvTranspose2d
from cvgraph.blocks.merge import Add, Concat, WeightedFusion
from cvgraph.blocks.norm import FrozenBatchNorm2d
from cvgraph.blocks.pool import MaxPool2dWithIndices, MaxUnpool2d
from cvgraph.blocks.resample import CenterCrop, Upsample
from cvgraph.blocks.segmentation import ClassMapHead
from cvgraph.errors import ShapeError
from cvgraph.shapes import ClassMap, FeatureMap, PoolIndices

CONTEXT = BuildContext(path="node")
sizes = st.integers(min_value=1, max_value=40)
PROPERTY = settings(max_examples=40, deadline=None)


def _run(block, shapes, args, tensors):
    """Return (inferred shape, real output) for one block."""
    parsed = block.Args(**args)
    inferred = block.infer(shapes, parsed)
    module = block.build(shapes, parsed, CONTEXT).eval()
    with torch.no_grad():
        return inferred, module(*tensors)


def _map(channels: int, height: int, width: int) -> tuple[FeatureMap, torch.Tensor]:
    return FeatureMap(channels, height, width), torch.randn(1, channels, height, width)


def _size(output: torch.Tensor) -> tuple[int, ...]:
    return tuple(output.shape[1:])


@PROPERTY
@given(h=sizes, w=sizes, k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3), op=st.integers(0, 3))
def test_conv_transpose2d_output_padding_shape(h, w, k, s, p, d, op):
    assume(op < max(s, d))
    shape, x = _map(2, h, w)
    args = {"out_channels": 3, "kernel_size": k, "stride": s, "padding": p, "dilation": d, "output_padding": op}
    try:
        inferred = ConvTranspose2d.infer([shape], ConvTranspose2d.Args(**args))
    except ShapeError:
        # torch either fails or returns an empty map where the shape function rejects the arguments.
        module = ConvTranspose2d.build([shape], ConvTranspose2d.Args(**args), CONTEXT)
        try:
            out = module(x)
        except RuntimeError:
            return
        assert 0 in out.shape[-2:]
        return
    module = ConvTranspose2d.build([shape], ConvTranspose2d.Args(**args), CONTEXT)
    assert inferred.torch_size() == _size(module(x))


@PROPERTY
@given(h=st.integers(3, 60), w=st.integers(3, 60), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 1))
def test_conv_transpose2d_mirrors_strided_conv(h, w, k, s, p):
    assume(h + 2 * p >= k and w + 2 * p >= k)
    source, x = _map(2, h, w)
    args = {"out_channels": 4, "kernel_size": k, "stride": s, "padding": p}
    down_shape, down = _run(Conv2d, [source], args, [x])
    up_args = {"out_channels": 2, "kernel_size": k, "stride": s, "padding": p}
    up_shape, up = _run(ConvTranspose2d, [down_shape, source], up_args, [down, x])
    assert (up_shape.height, up_shape.width) == (h, w)
    assert up_shape.torch_size() == _size(up)
    assert up_shape.stride == source.stride


def test_conv_transpose2d_match_rejects_unreachable_size():
    coarse, match = FeatureMap(4, 10, 10), FeatureMap(4, 40, 40)
    args = ConvTranspose2d.Args(out_channels=4, kernel_size=2, stride=2)
    with pytest.raises(ShapeError) as caught:
        ConvTranspose2d.infer([coarse, match], args)
    assert caught.value.expected == "height from 20 to 21 (input 0 height 10, stride 2)"
    assert caught.value.found == "height 40"


@PROPERTY
@given(h=sizes, w=sizes, k=st.integers(1, 4), d=st.integers(1, 4), s=st.integers(1, 2))
def test_conv2d_dilation_shape(h, w, k, d, s):
    shape, x = _map(3, h, w)
    args = {"out_channels": 2, "kernel_size": k, "dilation": d, "padding": d, "stride": s}
    try:
        inferred = Conv2d.infer([shape], Conv2d.Args(**args))
    except ShapeError:
        with pytest.raises(RuntimeError):
            Conv2d.build([shape], Conv2d.Args(**args), CONTEXT)(x)
        return
    assert inferred.torch_size() == _size(Conv2d.build([shape], Conv2d.Args(**args), CONTEXT)(x))


@PROPERTY
@given(h=st.integers(3, 40), w=st.integers(3, 40), k=st.integers(2, 3), ceil=st.booleans(), like=st.booleans())
def test_maxpool_indices_and_unpool_shapes(h, w, k, ceil, like):
    shape, x = _map(3, h, w)
    pool_args = {"kernel_size": k, "ceil_mode": ceil}
    pooled, (values, indices) = _run(MaxPool2dWithIndices, [shape], pool_args, [x])
    assert pooled["values"].torch_size() == _size(values)
    assert pooled["indices"].torch_size() == _size(indices)
    assert isinstance(pooled["indices"], PoolIndices)
    assert (pooled["indices"].source_height, pooled["indices"].source_width) == (h, w)

    unpool_shapes = [pooled["values"], pooled["indices"], *([shape] if like else [])]
    unpool_inputs = [values, indices, *([x] if like else [])]
    try:
        unpooled_shape, unpooled = _run(MaxUnpool2d, unpool_shapes, {"kernel_size": k}, unpool_inputs)
    except ShapeError:
        assert not like
        default = ((values.shape[-2] - 1) * k + k, (values.shape[-1] - 1) * k + k)
        assert default != (h, w)
        return
    assert unpooled_shape.torch_size() == _size(unpooled) == (3, h, w)
    # Every pooled value sits back at the position its index names.
    gathered = unpooled.flatten(2).gather(2, indices.flatten(2))
    assert torch.equal(gathered, values.flatten(2))


def test_max_unpool2d_rejects_feature_map_as_indices():
    values = FeatureMap(3, 8, 8)
    with pytest.raises(ShapeError) as caught:
        MaxUnpool2d.infer([values, values], MaxUnpool2d.Args(kernel_size=2))
    assert caught.value.found == "FeatureMap(3x8x8)"


def test_conv2d_rejects_pool_indices():
    indices = PoolIndices((3, 8, 8), source_height=16, source_width=16)
    with pytest.raises(ShapeError) as caught:
        Conv2d.infer([indices], Conv2d.Args(out_channels=4, kernel_size=1))
    assert caught.value.expected == "FeatureMap (N, C, H, W)"
    assert caught.value.found == "PoolIndices(indices 3x8x8)"


@PROPERTY
@given(h=sizes, w=sizes, sh=st.integers(1, 4), sw=st.integers(1, 4), mode=st.sampled_from(["nearest", "bilinear"]))
def test_upsample_scale_shape(h, w, sh, sw, mode):
    shape, x = _map(2, h, w)
    inferred, out = _run(Upsample, [shape], {"scale_factor": [sh, sw], "mode": mode}, [x])
    assert inferred.torch_size() == _size(out) == (2, h * sh, w * sw)


@PROPERTY
@given(h=sizes, w=sizes, th=sizes, tw=sizes, mode=st.sampled_from(["nearest", "bilinear"]))
def test_upsample_to_node_size(h, w, th, tw, mode):
    shape, x = _map(2, h, w)
    like_shape, like = _map(5, th, tw)
    inferred, out = _run(Upsample, [shape, like_shape], {"mode": mode}, [x, like])
    assert inferred.torch_size() == _size(out) == (2, th, tw)
    align_corners = False if mode == "bilinear" else None
    assert torch.equal(out, F.interpolate(x, size=(th, tw), mode=mode, align_corners=align_corners))


def test_upsample_rejects_scale_and_second_input():
    with pytest.raises(ShapeError) as caught:
        Upsample.infer([FeatureMap(2, 4, 4), FeatureMap(2, 8, 8)], Upsample.Args(scale_factor=2))
    assert caught.value.expected == "one of scale_factor or input 1"


@PROPERTY
@given(h=sizes, w=sizes, dh=st.integers(0, 9), dw=st.integers(0, 9), symmetric=st.booleans())
def test_center_crop_shape_and_values(h, w, dh, dw, symmetric):
    big_shape, big = _map(3, h + dh, w + dw)
    small_shape, small = _map(1, h, w)
    try:
        inferred, out = _run(CenterCrop, [big_shape, small_shape], {"symmetric": symmetric}, [big, small])
    except ShapeError:
        assert symmetric
        assert dh % 2 or dw % 2
        return
    assert inferred.torch_size() == _size(out) == (3, h, w)
    assert torch.equal(out, big[..., dh // 2 : dh // 2 + h, dw // 2 : dw // 2 + w])


JOIN_BLOCKS = [Add, Concat, WeightedFusion]


def _expected_join(tensors, policy):
    """Apply a join policy with plain slicing and F.pad, independently of the block code."""
    heights = [t.shape[-2] for t in tensors]
    widths = [t.shape[-1] for t in tensors]
    if policy == "pad":
        height, width = max(heights), max(widths)
        out = []
        for t in tensors:
            top, left = (height - t.shape[-2]) // 2, (width - t.shape[-1]) // 2
            out.append(F.pad(t, (left, width - t.shape[-1] - left, top, height - t.shape[-2] - top)))
        return out
    if policy == "crop":
        height, width = min(heights), min(widths)
        return [
            t[..., (t.shape[-2] - height) // 2 : (t.shape[-2] - height) // 2 + height,
              (t.shape[-1] - width) // 2 : (t.shape[-1] - width) // 2 + width]
            for t in tensors
        ]
    height, width = heights[0], widths[0]
    return [t if t.shape[-2:] == (height, width) else F.interpolate(t, size=(height, width), mode="bilinear") for t in tensors]


@PROPERTY
@given(
    block=st.sampled_from(JOIN_BLOCKS),
    policy=st.sampled_from(["none", "pad", "crop", "resize"]),
    map_sizes=st.lists(st.tuples(sizes, sizes), min_size=2, max_size=3),
)
def test_join_policies_shape_and_values(block, policy, map_sizes):
    shapes, tensors = zip(*(_map(2, h, w) for h, w in map_sizes))
    equal = len(set(map_sizes)) == 1
    try:
        inferred, out = _run(block, list(shapes), {"align": policy}, list(tensors))
    except ShapeError:
        assert policy == "none"
        assert not equal
        return
    assert policy != "none" or equal
    assert inferred.torch_size() == _size(out)

    aligned = _expected_join(tensors, policy) if policy != "none" else list(tensors)
    if block is Concat:
        expected = torch.cat(aligned, dim=1)
    elif block is Add:
        expected = sum(aligned[1:], aligned[0])
    else:
        expected = sum(aligned) / (len(aligned) + 1e-4)
    assert torch.allclose(out, expected, atol=1e-5)


def test_weighted_fusion_weights_are_nonnegative_and_normalized():
    shapes, tensors = zip(*(_map(2, 4, 4) for _ in range(3)))
    args = WeightedFusion.Args(epsilon=1e-4)
    module = WeightedFusion.build(list(shapes), args, CONTEXT)
    assert list(module.state_dict()) == ["weight"]
    with torch.no_grad():
        module.weight.copy_(torch.tensor([-1.0, 2.0, 3.0]))
        out = module(*tensors)
    expected = (2.0 * tensors[1] + 3.0 * tensors[2]) / (5.0 + 1e-4)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.all(module.normalized_weights() >= 0)


def test_weighted_fusion_rejects_different_channels():
    with pytest.raises(ShapeError) as caught:
        WeightedFusion.infer([FeatureMap(2, 4, 4), FeatureMap(3, 4, 4)], WeightedFusion.Args())
    assert caught.value.expected == "2 channels"
    assert caught.value.found == "3 channels"


def test_classmap_types_scores_and_blocks_convolution():
    shape, x = _map(5, 7, 9)
    inferred, out = _run(ClassMapHead, [shape], {}, [x])
    assert inferred == ClassMap(5, 7, 9)
    assert torch.equal(out, x)
    with pytest.raises(ShapeError):
        Conv2d.infer([inferred], Conv2d.Args(out_channels=2, kernel_size=1))


@PROPERTY
@given(c=st.integers(1, 6), h=sizes, w=sizes)
def test_classmap_and_frozen_batchnorm_shapes(c, h, w):
    shape, x = _map(c, h, w)
    scores, out = _run(ClassMapHead, [shape], {}, [x])
    assert scores.torch_size() == _size(out) == (c, h, w)
    normalized, out = _run(FrozenBatchNorm2d, [shape], {}, [x])
    assert normalized.torch_size() == _size(out)
