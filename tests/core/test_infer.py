"""Shape inference with free input sizes: valid sizes and their summaries."""

from __future__ import annotations

import pytest

import cvgraph
from cvgraph.infer import describe_valid_sizes, parse_input_size, valid_sizes
from cvgraph.shapes import FeatureMap

ENCODER_DECODER = {
    "name": "hourglass",
    "inputs": {"image": {"channels": 3}},
    "nodes": {
        "down1": {"block": "conv2d", "args": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}},
        "down2": {"block": "conv2d", "args": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}},
        "up1": {"block": "conv_transpose2d", "args": {"out_channels": 4, "kernel_size": 2, "stride": 2}},
        "up2": {"block": "conv_transpose2d", "args": {"out_channels": 3, "kernel_size": 2, "stride": 2}},
        "skip": {"block": "add", "from": ["up2", "image"]},
    },
}


def test_free_sizes_propagate_as_unknown():
    report = cvgraph.infer_shapes(cvgraph.load_spec(ENCODER_DECODER))

    assert report.nodes["down2"] == FeatureMap(4, None, None, 4)
    assert report.outputs["output"].height is None


def test_valid_sizes_of_two_level_hourglass_are_multiples_of_4():
    sizes = valid_sizes(cvgraph.load_spec(ENCODER_DECODER), max_size=64)

    assert sizes == list(range(4, 65, 4))
    assert describe_valid_sizes(sizes, 64) == "multiples of 4 from 4 (4, 8, 12, ...)"


def test_resnet_accepts_any_size():
    sizes = valid_sizes(cvgraph.load_spec("resnet18"), max_size=40)

    assert describe_valid_sizes(sizes, 40) == "any size from 1"


def test_fixed_input_size_is_checked():
    spec = cvgraph.load_spec({**ENCODER_DECODER, "inputs": {"image": {"channels": 3, "height": 32, "width": 32}}})

    with pytest.raises(cvgraph.ShapeError, match="must have height 32"):
        cvgraph.infer_shapes(spec, {"image": "1x3x64x32"})


@pytest.mark.parametrize(
    "text, expected",
    [("1x3x224x224", FeatureMap(3, 224, 224)), ("3x32x48", FeatureMap(3, 32, 48)), ((3, 8, 8), FeatureMap(3, 8, 8))],
)
def test_parse_input_size_drops_batch(text, expected):
    assert parse_input_size(text) == expected


@pytest.mark.parametrize("text", ["1x3x0x4", "x3", "1x3x224x224x2", "axbxc"])
def test_parse_input_size_rejects_invalid_text(text):
    with pytest.raises(cvgraph.SpecError, match="invalid input size"):
        parse_input_size(text)
