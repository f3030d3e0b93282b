"""The compiled module: fx code, torch.compile, export, devices, dtypes and inference optimizations."""

from __future__ import annotations

import pytest
import torch
from torch import fx

import cvgraph
from cvgraph.compiler import model_info
from cvgraph.optimize import optimize_for_inference

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_build_returns_graph_module_with_straight_line_forward():
    model = cvgraph.build("resnet18")

    assert isinstance(model, fx.GraphModule)
    assert "for " not in model.code
    assert model_info(model).output_names == ("logits",)
    assert len(model_info(model).fingerprint) == 64


def test_torch_compile_fullgraph_accepts_resnet():
    model = cvgraph.build("resnet18", params={"num_classes": 10}).eval()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    x = torch.randn(1, 3, 64, 64)

    with torch.no_grad():
        assert torch.allclose(compiled(x), model(x))


def test_torch_export_traces_resnet():
    model = cvgraph.build("resnet18", params={"num_classes": 10}).eval()
    exported = torch.export.export(model, (torch.randn(1, 3, 64, 64),))
    x = torch.randn(1, 3, 64, 64)

    with torch.no_grad():
        assert torch.allclose(exported.module()(x), model(x), atol=1e-5)


@pytest.mark.parametrize("fold_bn, channels_last", [(True, False), (False, True), (True, True)])
def test_inference_optimizations_keep_outputs_within_1e_4(photo_batch, fold_bn, channels_last):
    torch.manual_seed(0)
    model = cvgraph.build("resnet50").eval()
    # Non-trivial BatchNorm statistics, so that folding has something to fold.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    optimized = optimize_for_inference(model, fold_bn=fold_bn, channels_last=channels_last)

    with torch.inference_mode():
        expected = model(photo_batch)
        actual = optimized(photo_batch)

    assert (actual - expected).abs().max().item() <= 1e-4
    if fold_bn:
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in optimized.modules())
    if channels_last:
        assert optimized.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_fold_bn_build_removes_batchnorm():
    model = cvgraph.build("resnet18", fold_bn=True)

    assert not model.training
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert model_info(model).optimized == ("fold_bn",)


def test_dtype_and_device_moves():
    model = cvgraph.build("resnet18", params={"num_classes": 4}, dtype=torch.bfloat16, device="cpu").eval()
    out = model(torch.randn(1, 3, 32, 32, dtype=torch.bfloat16))

    assert model.conv1.weight.dtype == torch.bfloat16
    assert out.dtype == torch.bfloat16
    assert out.shape == (1, 4)


@cuda
def test_build_on_cuda_matches_cpu():
    cpu = cvgraph.build("resnet18").eval()
    gpu = cvgraph.build("resnet18", device="cuda").eval()
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(2, 3, 64, 64)

    with torch.inference_mode():
        assert (gpu(x.cuda()).cpu() - cpu(x)).abs().max().item() <= 1e-3
    assert cpu.to("cuda").conv1.weight.is_cuda


def test_shape_inference_allocates_no_weights():
    spec = cvgraph.load_spec("resnet152")
    report = cvgraph.infer_shapes(spec, {"image": "1x3x224x224"})

    assert str(report.outputs["logits"]) == "1000"
    assert str(report.nodes["layer4.2.relu"]) == "2048x7x7"
    assert report.nodes["layer4.2.relu"].stride == 32


def _inplace_flags(model):
    return {name: module.inplace for name, module in model.named_modules() if hasattr(module, "inplace")}


def test_inplace_plan_matches_torchvision_resnet_and_its_gradients():
    import torchvision

    model = cvgraph.build("resnet50")
    reference = torchvision.models.resnet50(weights=None)
    model.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 64, 64, requires_grad=True)

    model(x).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    reference(x).sum().backward()

    assert all(_inplace_flags(model).values())
    assert (ours - x.grad).abs().max().item() <= 1e-4


def test_inplace_refused_for_shared_memory():
    spec = {
        "name": "guards",
        "inputs": {"image": {"channels": 2}},
        "nodes": {
            "on_input": {"block": "relu"},
            "conv": {"block": "conv2d", "args": {"out_channels": 2, "kernel_size": 1}},
            "shared": {"block": "relu", "from": "conv"},
            "other_reader": {"block": "conv2d", "from": "conv", "args": {"out_channels": 2, "kernel_size": 1}},
            "after_relu": {"block": "add", "from": ["shared", "other_reader"]},
            "view": {"block": "identity", "from": "other_reader"},
            "through_view": {"block": "relu", "from": "view"},
            "total": {"block": "add", "from": ["after_relu", "through_view", "on_input"]},
        },
    }
    model = cvgraph.build(spec)
    flags = _inplace_flags(model)
    x = torch.randn(1, 2, 4, 4, requires_grad=True)

    model(x).sum().backward()

    assert flags["on_input"] is False  # a model input is never overwritten
    assert flags["shared"] is False  # conv is also read by other_reader
    assert flags["after_relu"] is False  # autograd keeps the relu output
    assert flags["through_view"] is False  # identity shares other_reader's memory, read by after_relu
    assert x.grad is not None
