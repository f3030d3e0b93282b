"""Resource guards: specs that would exceed the parameter or activation budget are rejected before allocation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cvgraph
from cvgraph.hookspecs import PLUGIN_API_VERSION
from cvgraph import Block, BlockArgs, Limits, ResourceError, ResourceLimits, hookimpl
from cvgraph.blocks.conv import Conv2d
from cvgraph.blocks.linear import Linear
from cvgraph.infer import infer_shapes
from cvgraph.limits import check_resources, estimate_resources, parse_size
from cvgraph.registry import new_registry
from cvgraph.shapes import FeatureMap

from .bounds import MAX_PEAK_BYTES, MAX_SECONDS, run_bounded


def _spec(nodes, channels=3, height=32, width=32):
    image = {"channels": channels, "height": height, "width": width}
    return {"name": "budget", "inputs": {"image": {k: v for k, v in image.items() if v is not None}}, "nodes": nodes}


@pytest.fixture
def no_build(monkeypatch):
    """Make every real build of conv2d and linear fail the test: the check must come first."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a module was built before the budget check")

    monkeypatch.setattr(Conv2d, "build", classmethod(forbidden))
    monkeypatch.setattr(Linear, "build", classmethod(forbidden))


def test_billion_output_channels_rejected_before_build(no_build):
    spec = _spec({"conv": {"block": "conv2d", "args": {"out_channels": 1_000_000_000, "kernel_size": 3}}})

    result = run_bounded(lambda: cvgraph.build(spec))

    assert isinstance(result.error, ResourceError)
    assert "28,000,000,000 parameters" in result.error.message
    assert "budget of 1,000,000,000" in result.error.message
    assert result.error.node == "conv"
    assert result.seconds < MAX_SECONDS
    assert result.peak_bytes < MAX_PEAK_BYTES


def test_huge_linear_rejected_before_build(no_build):
    spec = _spec({"flat": {"block": "flatten"}, "fc": {"block": "linear", "args": {"out_features": 10**12}}})

    with pytest.raises(ResourceError, match="parameters") as caught:
        cvgraph.build(spec)

    assert caught.value.node == "fc"
    assert "3,073,000,000,000,000 parameters" in caught.value.found  # 3072 x 10**12 weights + 10**12 biases


def test_huge_repeat_rejected_with_count_and_limit():
    spec = _spec({"relu": {"block": "relu", "repeat": 10_000_000}})

    result = run_bounded(lambda: cvgraph.build(spec))

    assert result.error is not None
    assert "'repeat' of 10000000 is more than the limit" in result.error.message
    assert result.error.expected == "at most 10000"
    assert result.seconds < MAX_SECONDS


def test_huge_input_activations_rejected(no_build):
    spec = _spec({"conv": {"block": "conv2d", "args": {"out_channels": 64, "kernel_size": 3, "padding": 1}}}, height=None, width=None)

    with pytest.raises(ResourceError, match="of activations") as caught:
        cvgraph.build(spec, input_shapes={"image": "1x3x100000x100000"})

    assert "budget of 16.0 GiB" in caught.value.message
    assert "640,000,000,000 elements per sample" in caught.value.found


def test_huge_padding_activations_rejected(no_build):
    spec = _spec({"conv": {"block": "conv2d", "args": {"out_channels": 4, "kernel_size": 1, "padding": 2**30}}})

    with pytest.raises(ResourceError, match="of activations"):
        cvgraph.build(spec)


def test_batch_size_scales_activation_estimate():
    spec = cvgraph.load_spec(_spec({"relu": {"block": "relu"}}))
    report = infer_shapes(spec)

    one = estimate_resources(spec, report, ResourceLimits(batch_size=1))
    eight = estimate_resources(spec, report, ResourceLimits(batch_size=8, bytes_per_element=2))

    assert one.activation_bytes == 3 * 32 * 32 * 4
    assert eight.activation_bytes == 3 * 32 * 32 * 8 * 2


def test_free_size_nodes_listed_not_counted():
    spec = cvgraph.load_spec({"name": "free", "inputs": {"image": {"channels": 3}}, "nodes": {"relu": {"block": "relu"}}})

    estimate = estimate_resources(spec, infer_shapes(spec))

    assert estimate.activation_bytes == 0
    assert estimate.free_size_nodes == ("relu",)


def test_budget_configurable_per_call():
    spec = _spec({"conv": {"block": "conv2d", "args": {"out_channels": 8, "kernel_size": 3}}})  # 224 parameters

    with pytest.raises(ResourceError, match="budget of 100"):
        cvgraph.build(spec, limits=Limits(resources=ResourceLimits(max_params=100)))
    model = cvgraph.build(spec, limits=Limits(resources=ResourceLimits(max_params=224)))

    assert sum(p.numel() for p in model.parameters()) == 224


def test_budget_configurable_by_environment(monkeypatch):
    spec = _spec({"conv": {"block": "conv2d", "args": {"out_channels": 8, "kernel_size": 3}}})
    monkeypatch.setenv("CVGRAPH_MAX_PARAMS", "100")

    with pytest.raises(ResourceError, match="budget of 100"):
        cvgraph.build(spec)

    monkeypatch.setenv("CVGRAPH_MAX_ACTIVATION_BYTES", "1KiB")
    monkeypatch.setenv("CVGRAPH_MAX_PARAMS", "1M")
    with pytest.raises(ResourceError, match=r"budget of 1.0 KiB \(1,024 bytes\)"):
        cvgraph.build(spec)


def test_invalid_environment_budget_rejected(monkeypatch):
    monkeypatch.setenv("CVGRAPH_MAX_PARAMS", "lots")

    with pytest.raises(cvgraph.SpecError, match="CVGRAPH_MAX_PARAMS"):
        ResourceLimits.from_env()


@pytest.mark.parametrize("text, value", [("5000", 5000), ("2G", 2 * 10**9), ("512MiB", 512 * 2**20), ("1_000k", 10**6)])
def test_parse_size_accepts_suffixes(text, value):
    assert parse_size(text, "size") == value


@pytest.mark.parametrize("text", ["", "0", "-5", "5X", "1.5G", "9" * 40])
def test_parse_size_rejects_invalid(text):
    with pytest.raises(cvgraph.SpecError, match="invalid size"):
        parse_size(text, "size")


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_estimate_equals_real_parameter_count(name):
    spec = cvgraph.load_spec(name)
    report = infer_shapes(spec, {"image": "1x3x64x64"})

    estimate = estimate_resources(spec, report)
    with torch.device("meta"):
        model = cvgraph.compiler.compile_spec(spec, report=report)

    assert estimate.params == sum(p.numel() for p in model.parameters())
    for path, count in estimate.params_per_node.items():
        assert count == sum(p.numel() for p in model.get_submodule(path).parameters()), path


class _ScaleArgs(BlockArgs):
    features: int


class _Scale(Block):
    """A plugin block without num_params: its parameters are counted on the meta device."""

    name = "scale"
    Args = _ScaleArgs

    @classmethod
    def infer(cls, inputs, args):
        return inputs[0]

    @classmethod
    def build(cls, inputs, args, ctx):
        module = nn.Module()
        module.weight = nn.Parameter(torch.empty(args.features, inputs[0].channels))
        return module


class _BrokenCount(_Scale):
    name = "broken_count"

    @classmethod
    def num_params(cls, inputs, args):
        raise ZeroDivisionError("oops")


class ApiVersion:
    """Declares the plugin API version, as every plugin must."""

    @staticmethod
    @hookimpl
    def cvgraph_plugin_api_version():
        return PLUGIN_API_VERSION


class _Plugin(ApiVersion):
    @staticmethod
    @hookimpl
    def cvgraph_blocks():
        return [_Scale, _BrokenCount]


def test_block_without_num_params_counted_on_meta_device():
    registry = new_registry(plugins=[("test", _Plugin)], entry_points=False)
    spec = cvgraph.load_spec(
        _spec({"scale": {"block": "scale", "args": {"features": 10**9}}}), registry=registry
    )

    with pytest.raises(ResourceError, match="3,000,000,000 parameters"):
        check_resources(spec, infer_shapes(spec))


def test_broken_num_params_reported_as_spec_error():
    registry = new_registry(plugins=[("test", _Plugin)], entry_points=False)
    spec = cvgraph.load_spec(_spec({"b": {"block": "broken_count", "args": {"features": 1}}}), registry=registry)

    with pytest.raises(cvgraph.SpecError, match="failed to count its parameters: ZeroDivisionError") as caught:
        cvgraph.compiler.compile_spec(spec)

    assert caught.value.node == "b"


def test_feature_map_shape_counts_elements():
    # The activation estimate multiplies every dimension of the shape.
    from cvgraph.limits import _elements

    assert _elements(FeatureMap(3, 4, 5)) == 60
    assert _elements(FeatureMap(3, None, 5)) is None
