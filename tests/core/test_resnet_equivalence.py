"""The zoo ResNets equal torchvision's: keys, shapes, parameter counts and outputs on real photos."""

from __future__ import annotations

import pytest
import torch
import torchvision

import cvgraph

RESNETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


@pytest.mark.parametrize("name", RESNETS)
def test_resnet_state_dict_keys_and_shapes_equal_torchvision(name):
    model = cvgraph.build(name)
    reference = getattr(torchvision.models, name)(weights=None)

    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}

    assert list(ours) == list(theirs)
    assert ours == theirs
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("name", RESNETS)
def test_resnet_outputs_equal_torchvision_on_photos(name, photo_batch):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None).eval()
    model = cvgraph.build(name).eval()
    model.load_state_dict(reference.state_dict(), strict=True)

    with torch.inference_mode():
        expected = reference(photo_batch)
        actual = model(photo_batch)

    assert actual.shape == expected.shape == (3, 1000)
    assert (actual - expected).abs().max().item() <= 1e-4


def test_resnet_params_change_width_classes_and_depth():
    model = cvgraph.build("resnet18", params={"width": 32, "num_classes": 10, "layers": [1, 1, 1, 1]})
    reference = torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1], num_classes=10)

    assert model.fc.out_features == 10
    assert model.conv1.out_channels == 32
    assert "layer1.1.conv1.weight" not in model.state_dict()
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("size", [32, 33, 97, 300])
def test_resnet_runs_at_any_input_size_from_32(size):
    model = cvgraph.build("resnet18", params={"num_classes": 7}, input_shapes={"image": f"1x3x{size}x{size + 5}"}).eval()
    reference = torchvision.models.resnet18(weights=None, num_classes=7).eval()
    model.load_state_dict(reference.state_dict())
    x = torch.randn(1, 3, size, size + 5)

    with torch.inference_mode():
        assert (model(x) - reference(x)).abs().max().item() <= 1e-4


@pytest.mark.parametrize("name, reference_name", [("plain18", "resnet18"), ("plain34", "resnet34")])
def test_plain_network_has_no_shortcuts(name, reference_name):
    plain = cvgraph.build(name)
    residual = cvgraph.build(reference_name)

    keys = set(plain.state_dict())
    assert not any("downsample" in key for key in keys)
    assert not any(module.__class__.__name__ == "_Sum" for module in plain.modules())
    assert keys == {k for k in residual.state_dict() if "downsample" not in k}
    assert plain(torch.randn(1, 3, 64, 64)).shape == (1, 1000)
