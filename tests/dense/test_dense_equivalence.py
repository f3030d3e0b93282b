"""FCN-ResNet50 and ResNet-50-FPN specs against their torchvision references on real photos."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

import cvgraph

from .conftest import photo_tensor, randomize_batchnorm

TOLERANCE = 1e-4
FPN_OUTPUTS = {"p2": "0", "p3": "1", "p4": "2", "p5": "3", "p6": "pool"}
"""The spec's pyramid levels (named from log2 of the stride) and torchvision's keys."""


@pytest.fixture(scope="module")
def fcn_pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    reference = torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=True)
    randomize_batchnorm(reference)
    model = cvgraph.build("fcn_resnet50")
    model.load_state_dict(reference.state_dict(), strict=True)
    return model.eval(), reference.eval()


@pytest.fixture(scope="module")
def fpn_pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    reference = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5)
    randomize_batchnorm(reference)
    model = cvgraph.build("resnet50_fpn")
    model.load_state_dict(reference.state_dict(), strict=True)
    return model.eval(), reference.eval()


def _key_shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


def test_fcn_resnet50_state_dict_matches_torchvision(fcn_pair):
    model, reference = fcn_pair
    ours, theirs = _key_shapes(model), _key_shapes(reference)
    assert sorted(ours) == sorted(theirs)
    assert ours == theirs
    assert "backbone.layer4.2.conv2.weight" in ours
    assert "aux_classifier.4.bias" in ours


def test_fcn_resnet50_dilation_matches_torchvision(fcn_pair):
    model, reference = fcn_pair
    for path in ("layer3.0.conv2", "layer3.1.conv2", "layer4.0.conv2", "layer4.2.conv2", "layer4.0.downsample.0"):
        ours = model.get_submodule(f"backbone.{path}")
        theirs = reference.get_submodule(f"backbone.{path}")
        assert (ours.stride, ours.dilation, ours.padding) == (theirs.stride, theirs.dilation, theirs.padding), path


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_fcn_resnet50_outputs_match_torchvision(fcn_pair, name):
    model, reference = fcn_pair
    image = photo_tensor(name, 160)
    with torch.inference_mode():
        ours, theirs = model(image), reference(image)
    assert set(ours) == {"out", "aux"}
    for key in ("out", "aux"):
        assert ours[key].shape == (1, 21, *image.shape[-2:])
        assert torch.allclose(ours[key], theirs[key], atol=TOLERANCE, rtol=0), key


@pytest.mark.parametrize("name", ["resnet50", "resnet101"])
def test_bottleneck_dilation_param_keeps_resnet_keys(name):
    model = cvgraph.build(name)
    reference = getattr(torchvision.models, name)(weights=None)
    assert _key_shapes(model) == _key_shapes(reference)


def test_fcn_resnet50_output_is_classmap():
    report = cvgraph.infer_shapes("fcn_resnet50", {"image": "1x3x161x203"})
    assert isinstance(report.outputs["out"], cvgraph.shapes.ClassMap)
    assert report.outputs["out"].classes == 21
    assert (report.outputs["aux"].height, report.outputs["aux"].width) == (161, 203)
    assert report.nodes["backbone.layer4.2.relu"].stride == 8


def test_resnet50_fpn_state_dict_matches_torchvision(fpn_pair):
    model, reference = fpn_pair
    ours, theirs = _key_shapes(model), _key_shapes(reference)
    assert ours == theirs
    assert "fpn.inner_blocks.3.0.weight" in ours
    assert "body.bn1.running_var" in ours


@pytest.mark.parametrize(("name", "size"), [("astronaut", (160, 160)), ("chelsea", (160, 240)), ("coffee", (350, 525))])
def test_resnet50_fpn_pyramid_matches_torchvision(fpn_pair, name, size):
    model, reference = fpn_pair
    image = photo_tensor(name, *size)
    with torch.inference_mode():
        ours, theirs = model(image), reference(image)
    assert list(ours) == list(FPN_OUTPUTS)
    for level, key in FPN_OUTPUTS.items():
        assert ours[level].shape == theirs[key].shape, level
        assert torch.allclose(ours[level], theirs[key], atol=TOLERANCE, rtol=0), level


def test_resnet50_fpn_loads_torchvision_weights_through_load_weights(fpn_pair, tmp_path):
    model, reference = fpn_pair
    path = tmp_path / "fpn.pt"
    torch.save(reference.state_dict(), path)
    fresh = cvgraph.build("resnet50_fpn", params={"layers": [3, 4, 6, 3]})
    report = cvgraph.load_weights(fresh, path, check_fingerprint=False)
    assert report.ok
    assert torch.equal(fresh.state_dict()["fpn.layer_blocks.0.0.weight"], reference.state_dict()["fpn.layer_blocks.0.0.weight"])
