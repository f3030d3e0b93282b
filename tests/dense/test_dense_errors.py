"""Error messages of the dense specs: file, line, node, expected, found and the size hint."""

from __future__ import annotations

from pathlib import Path

import pytest

import cvgraph
from cvgraph.errors import ShapeError, SpecError
from cvgraph.zoo import find_spec
from cvgraph.registry import default_registry


def _spec_file(name: str) -> Path:
    return find_spec(name, default_registry())


def _line_of(path: Path, prefix: str) -> int:
    """Return the 1-based line of ``path`` that starts with ``prefix``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith(prefix):
            return number
    raise AssertionError(f"{prefix!r} not in {path}")


def test_unet_padded_odd_size_error():
    with pytest.raises(ShapeError) as caught:
        cvgraph.infer_shapes("unet_padded", {"image": "1x3x350x525"})
    error = caught.value
    path = _spec_file("unet_padded")
    assert error.file == str(path)
    assert error.line == _line_of(path, "  cat4:")
    assert error.node == "cat4"
    assert error.expected == "height x width 43x65"
    assert error.found == "height x width 42x64"
    assert "input height 350 does not fit; nearest valid sizes: 336, 352" in error.hint
    assert "input width 525 does not fit; nearest valid sizes: 512, 528" in error.hint
    assert "set 'align' to pad, crop or resize" in error.hint


def test_unet_odd_size_error():
    with pytest.raises(ShapeError) as caught:
        cvgraph.infer_shapes("unet", {"image": "1x1x350x525"})
    error = caught.value
    path = _spec_file("unet")
    assert error.file == str(path)
    assert error.line == _line_of(path, "  skip2:")
    assert error.node == "skip2"
    assert error.expected == "an even difference between the heights"
    assert error.found == "height 169 -> 88"
    assert "input height 350 does not fit; nearest valid sizes: 348, 364" in error.hint


def test_fpn_scale_top_down_odd_size_error():
    with pytest.raises(ShapeError) as caught:
        cvgraph.infer_shapes("resnet50_fpn", {"image": "1x3x350x525"}, params={"top_down": "top_down_scale"})
    error = caught.value
    path = _spec_file("resnet50_fpn")
    assert error.file == str(path)
    assert error.line == _line_of(path, "      merge4:")
    assert error.node == "fpn.merge4"
    assert error.expected == "FeatureMap(256x22x33)"
    assert error.found == "FeatureMap(256x22x34)"
    assert "input width 525 does not fit; nearest valid sizes: 512, 541" in error.hint
    assert "height 350" not in error.hint


@pytest.mark.parametrize(("align", "size"), [("crop", (22, 33)), ("pad", (22, 34)), ("resize", (22, 33))])
def test_fpn_scale_top_down_join_policy(align, size):
    report = cvgraph.infer_shapes(
        "resnet50_fpn", {"image": "1x3x350x525"}, params={"top_down": "top_down_scale", "align": align}
    )
    assert (report.nodes["fpn.merge4"].height, report.nodes["fpn.merge4"].width) == size


def _inline_spec(nodes: dict) -> dict:
    return {"name": "inline", "inputs": {"image": {"channels": 3}}, "nodes": nodes}


def test_pool_indices_into_conv_is_rejected():
    spec = _inline_spec({
        "pool": {"block": "maxpool2d_with_indices", "args": {"kernel_size": 2}},
        "conv": {"block": "conv2d", "from": "pool.indices", "args": {"out_channels": 4, "kernel_size": 1}},
    })
    with pytest.raises(ShapeError) as caught:
        cvgraph.infer_shapes(spec, {"image": "1x3x32x32"})
    assert caught.value.node == "conv"
    assert caught.value.expected == "FeatureMap (N, C, H, W)"
    assert caught.value.found == "PoolIndices(indices 3x16x16)"


def test_unknown_pool_port_is_rejected():
    spec = _inline_spec({
        "pool": {"block": "maxpool2d_with_indices", "args": {"kernel_size": 2}},
        "conv": {"block": "conv2d", "from": "pool.argmax", "args": {"out_channels": 4, "kernel_size": 1}},
    })
    with pytest.raises(SpecError) as caught:
        cvgraph.infer_shapes(spec)
    assert caught.value.node == "conv"
    assert caught.value.expected == "one of: values, indices"
    assert caught.value.found == "argmax"


def test_unpool_without_source_at_odd_size_is_rejected():
    spec = _inline_spec({
        "pool": {"block": "maxpool2d_with_indices", "args": {"kernel_size": 2}},
        "unpool": {"block": "max_unpool2d", "from": ["pool.values", "pool.indices"], "args": {"kernel_size": 2}},
    })
    with pytest.raises(ShapeError) as caught:
        cvgraph.infer_shapes(spec, {"image": "1x3x33x32"})
    assert caught.value.node == "unpool"
    assert caught.value.expected == "height 33"
    assert caught.value.found == "height 32"
    assert "nearest valid sizes: 32, 34" in caught.value.hint


def test_classmap_into_conv_is_rejected():
    spec = _inline_spec({
        "scores": {"block": "classmap"},
        "conv": {"block": "conv2d", "args": {"out_channels": 4, "kernel_size": 1}},
    })
    with pytest.raises(ShapeError) as caught:
        cvgraph.infer_shapes(spec, {"image": "1x3x8x8"})
    assert caught.value.node == "conv"
    assert caught.value.found == "ClassMap(classes=3 8x8)"


def test_invalid_align_policy_is_rejected():
    spec = _inline_spec({
        "a": {"block": "conv2d", "args": {"out_channels": 3, "kernel_size": 1}},
        "join": {"block": "add", "from": ["image", "a"], "args": {"align": "stretch"}},
    })
    with pytest.raises(SpecError) as caught:
        cvgraph.infer_shapes(spec)
    assert caught.value.node == "join"
    assert "stretch" in str(caught.value)
