"""safetensors weights: round trips, strict reports, fingerprints, channels_last and shared tensors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cvgraph
from cvgraph.weights import read_tensors

TINY = {
    "name": "tiny",
    "inputs": {"image": {"channels": 3}},
    "nodes": {
        "conv": {"block": "conv2d", "args": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
        "bn": {"block": "batchnorm2d"},
        "pool": {"block": "global_avgpool"},
        "fc": {"block": "linear", "args": {"out_features": 2}},
    },
}


def test_round_trip_restores_every_tensor(tmp_path):
    model = cvgraph.build(TINY)
    path = cvgraph.save_weights(model, tmp_path / "tiny.safetensors")
    other = cvgraph.build(TINY)

    report = cvgraph.load_weights(other, path)

    assert report.ok
    for key, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)


def test_fingerprint_of_other_spec_is_rejected(tmp_path):
    model = cvgraph.build(TINY)
    path = cvgraph.save_weights(model, tmp_path / "tiny.safetensors")
    other_spec = {**TINY, "nodes": {**TINY["nodes"], "fc": {"block": "linear", "args": {"out_features": 2, "bias": True}}, "act": {"block": "relu"}}}
    other = cvgraph.build(other_spec)

    with pytest.raises(cvgraph.WeightsError) as caught:
        cvgraph.load_weights(other, path)

    assert caught.value.file == str(tmp_path / "tiny.safetensors")
    assert "a different version of spec 'tiny'" in caught.value.message
    assert cvgraph.load_weights(other, path, check_fingerprint=False).ok


def test_strict_load_reports_missing_unexpected_and_mis_shaped(tmp_path):
    model = cvgraph.build(TINY)
    state = model.state_dict()
    state.pop("fc.bias")
    state["extra.weight"] = torch.zeros(1)
    state["conv.weight"] = torch.zeros(4, 3, 5, 5)
    path = cvgraph.save_weights(state, tmp_path / "broken.safetensors")

    with pytest.raises(cvgraph.WeightsError) as caught:
        cvgraph.load_weights(model, path)

    message = caught.value.message
    assert "1 missing: fc.bias" in message
    assert "1 unexpected: extra.weight" in message
    assert "conv.weight: file (4, 3, 5, 5)" in message


def test_non_strict_load_skips_missing_keys(tmp_path):
    model = cvgraph.build(TINY)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    path = cvgraph.save_weights(state, tmp_path / "backbone.safetensors")

    report = cvgraph.load_weights(cvgraph.build(TINY), path, strict=False)

    assert report.missing == ["fc.weight", "fc.bias"]
    assert not report.unexpected


def test_channels_last_model_saves_and_loads_in_its_layout(tmp_path):
    model = cvgraph.build(TINY).to(memory_format=torch.channels_last)
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
    path = cvgraph.save_weights(model, tmp_path / "cl.safetensors")

    target = cvgraph.build(TINY).to(memory_format=torch.channels_last)
    cvgraph.load_weights(target, path)

    assert torch.equal(target.conv.weight, model.conv.weight)
    assert target.conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_shared_tensors_are_saved_once_and_restored(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 4, bias=False)
            self.decoder = nn.Linear(4, 4, bias=False)
            self.decoder.weight = self.encoder.weight

    model = Tied()
    path = cvgraph.save_weights(model, tmp_path / "tied.safetensors")
    tensors, metadata = read_tensors(path)
    target = Tied()
    cvgraph.load_weights(target, path)

    assert "cvgraph.aliases" in metadata
    assert torch.equal(tensors["decoder.weight"], tensors["encoder.weight"])
    assert torch.equal(target.encoder.weight, model.encoder.weight)
    assert target.decoder.weight is target.encoder.weight


def test_save_replaces_file_atomically(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"old")
    cvgraph.save_weights(cvgraph.build(TINY), path)

    assert path.read_bytes()[:8] != b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def test_torchvision_checkpoint_loads_through_pt_file(tmp_path):
    import torchvision

    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "resnet18.pt")
    model = cvgraph.build("resnet18")

    report = cvgraph.load_weights(model, tmp_path / "resnet18.pt")

    assert report.ok
    assert torch.equal(model.conv1.weight, reference.conv1.weight)


def test_saved_file_gets_umask_mode(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        path = cvgraph.save_weights(cvgraph.build(TINY), tmp_path / "w.safetensors")
    finally:
        os.umask(umask)

    assert path.stat().st_mode & 0o777 == 0o644


def test_build_loads_weights_before_folding(tmp_path):
    torch.manual_seed(0)
    model = cvgraph.build(TINY).eval()
    model.bn.running_mean.uniform_(-1, 1)
    path = cvgraph.save_weights(model, tmp_path / "tiny.safetensors")
    x = torch.randn(2, 3, 8, 8)

    folded = cvgraph.build(TINY, weights=path, fold_bn=True)

    with torch.inference_mode():
        assert (folded(x) - model(x)).abs().max().item() <= 1e-5
