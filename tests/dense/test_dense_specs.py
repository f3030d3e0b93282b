"""U-Net, SegNet and BiFPN specs: sizes, join policies, un-pooling and fusion weights."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import fx

import cvgraph
from cvgraph.infer import valid_sizes
from cvgraph.pipeline import load_spec
from cvgraph.receptive import receptive_fields
from cvgraph.shapes import ClassMap

from .conftest import photo_tensor


def test_unet_572_tile_gives_388_two_class_map():
    report = cvgraph.infer_shapes("unet", {"image": "1x1x572x572"})
    assert report.outputs["out"] == ClassMap(2, 388, 388)
    assert (report.nodes["center.relu2"].height, report.nodes["center.relu2"].channels) == (28, 1024)
    assert report.nodes["skip4"].height == 56
    assert report.nodes["enc4.relu2"].height == 64


def test_unet_forward_matches_inferred_output():
    model = cvgraph.build("unet", params={"width": 4}).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 572, 572))
    assert out.shape == (1, 2, 388, 388)


def test_unet_valid_sizes_are_16k_plus_124():
    sizes = valid_sizes(load_spec("unet"), 400)
    assert sizes == list(range(188, 401, 16))


def test_unet_padded_valid_sizes_are_multiples_of_16():
    sizes = valid_sizes(load_spec("unet_padded"), 200)
    assert sizes == list(range(16, 201, 16))


@pytest.mark.parametrize(
    ("align", "size"),
    [("pad", (350, 525)), ("crop", (336, 512)), ("resize", (350, 525))],
)
def test_unet_padded_join_policies_at_odd_size(align, size):
    report = cvgraph.infer_shapes("unet_padded", {"image": "1x3x350x525"}, params={"align": align})
    assert (report.outputs["out"].height, report.outputs["out"].width) == size
    model = cvgraph.build("unet_padded", params={"width": 4, "align": align}).eval()
    with torch.no_grad():
        out = model(photo_tensor("coffee", 350, 525))
    assert tuple(out.shape) == (1, 2, *size)


def test_segnet_unpools_to_pooling_indices_at_odd_size():
    model = cvgraph.build("segnet", params={"widths": [8, 8, 16, 16, 16], "num_classes": 5}).eval()
    recorded: dict[str, torch.Tensor] = {}

    class Recorder(fx.Interpreter):
        def call_module(self, target, args, kwargs):  # type: ignore[no-untyped-def]
            result = super().call_module(target, args, kwargs)
            recorded[target] = result
            if target == "dec1.unpool":
                recorded["dec1.unpool.input"] = args[0]
            return result

    image = photo_tensor("chelsea", 97, 131)
    with torch.no_grad():
        out = Recorder(model).run(image)
    assert out.shape == (1, 5, 97, 131)

    _, indices = recorded["pool1"]
    unpooled = recorded["dec1.unpool"]
    assert unpooled.shape[-2:] == (97, 131)
    gathered = unpooled.flatten(2).gather(2, indices.flatten(2))
    assert torch.equal(gathered, recorded["dec1.unpool.input"].flatten(2))
    assert int((unpooled != 0).sum()) <= indices.numel()


def test_segnet_state_dict_names_follow_stages():
    model = cvgraph.build("segnet", params={"widths": [8, 8, 16, 16, 16]})
    keys = set(model.state_dict())
    assert "enc3.conv.2.conv.weight" in keys
    assert "dec5.last.bn.running_mean" in keys
    assert "classifier.weight" in keys


def test_bifpn_levels_named_from_stride():
    report = cvgraph.infer_shapes("resnet50_bifpn", {"image": "1x3x350x525"})
    assert list(report.outputs) == ["p3", "p4", "p5", "p6", "p7"]
    for level, shape in report.outputs.items():
        assert shape.stride == 2 ** int(level[1:])
        assert shape.channels == 64
    assert (report.outputs["p7"].height, report.outputs["p7"].width) == (3, 5)


def test_bifpn_forward_and_fusion_weights():
    model = cvgraph.build("resnet50_bifpn", params={"width": 8, "layers": [1, 1, 1, 1], "channels": 16}).eval()
    with torch.no_grad():
        out = model(photo_tensor("astronaut", 160))
    assert {level: tuple(t.shape[-2:]) for level, t in out.items()} == {
        "p3": (20, 20), "p4": (10, 10), "p5": (5, 5), "p6": (3, 3), "p7": (2, 2)
    }
    weights = {k: v.shape for k, v in model.state_dict().items() if k.endswith(".weight") and ".fuse" in k}
    assert len(weights) == 3 * 8
    assert weights["cell0.fuse4_out.weight"] == (3,)
    assert weights["cell2.fuse7_out.weight"] == (2,)
    assert "cell1.conv5_td.depthwise.weight" in model.state_dict()


_UNET_MODELS: dict[str, torch.nn.Module] = {}


def _tiny_unet(align: str) -> torch.nn.Module:
    if align not in _UNET_MODELS:
        _UNET_MODELS[align] = cvgraph.build("unet_padded", params={"width": 2, "align": align}).eval()
    return _UNET_MODELS[align]


@settings(max_examples=12, deadline=None)
@given(align=st.sampled_from(["pad", "crop", "resize"]), height=st.integers(16, 90), width=st.integers(16, 90))
def test_unet_padded_join_policy_any_size(align, height, width):
    report = cvgraph.infer_shapes("unet_padded", {"image": f"1x3x{height}x{width}"}, params={"align": align})
    with torch.no_grad():
        out = _tiny_unet(align)(torch.randn(1, 3, height, width))
    assert report.outputs["out"].torch_size() == tuple(out.shape[1:])
    if align in ("pad", "resize"):
        assert tuple(out.shape[-2:]) == (height, width)
    else:
        assert tuple(out.shape[-2:]) == (height // 16 * 16, width // 16 * 16)


MIRROR_SPEC = {
    "name": "mirror",
    "inputs": {"image": {"channels": 3}},
    "nodes": {
        "down1": {"block": "conv2d", "args": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}},
        "down2": {"block": "conv2d", "args": {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1}},
        "up2": {"block": "conv_transpose2d", "from": ["down2", "down1"],
                "args": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}},
        "join2": {"block": "add", "from": ["down1", "up2"]},
        "up1": {"block": "conv_transpose2d", "from": ["join2", "image"],
                "args": {"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1}},
        "join1": {"block": "concat", "from": ["image", "up1"]},
    },
}


@settings(max_examples=15, deadline=None)
@given(height=st.integers(2, 70), width=st.integers(2, 70))
def test_matched_transposed_convs_mirror_encoder_any_size(height, width):
    report = cvgraph.infer_shapes(MIRROR_SPEC, {"image": f"1x3x{height}x{width}"})
    model = cvgraph.build(MIRROR_SPEC).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, height, width))
    assert report.outputs["output"].torch_size() == (6, height, width)
    assert tuple(out.shape[1:]) == (6, height, width)


def test_receptive_fields_through_upsampling_and_classmap():
    spec = load_spec("unet_padded")
    report = cvgraph.infer_shapes(spec, {"image": "1x3x64x64"})
    fields = receptive_fields(spec, report)
    assert fields["up4"].jump == (8, 8)
    assert fields["scores"].size == fields["classifier"].size
    assert fields["scores"].size is not None

    spec = load_spec("resnet50_fpn", params={"top_down": "top_down_scale"})
    report = cvgraph.infer_shapes(spec, {"image": "1x3x64x64"})
    fields = receptive_fields(spec, report)
    assert fields["fpn.top_down4.upsample"].jump == (16, 16)
    assert fields["fpn.top_down4.upsample"].size == fields["fpn.inner_blocks.3.0"].size
