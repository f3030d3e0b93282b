"""Broken plugins: every failure of foreign code becomes a PluginError or a located SpecError."""

from __future__ import annotations

import sys
import warnings

import pytest
from torch import nn

import cvgraph
from cvgraph.hookspecs import PLUGIN_API_VERSION
from cvgraph import Block, BlockArgs, PluginError, hookimpl
from cvgraph.registry import new_registry
from cvgraph.shapes import FeatureMap
from cvgraph.summary import summarize


class ApiVersion:
    """Declares the plugin API version, as every plugin must."""

    @staticmethod
    @hookimpl
    def cvgraph_plugin_api_version():
        return PLUGIN_API_VERSION


SPEC = {"name": "p", "inputs": {"image": {"channels": 3, "height": 8, "width": 8}}, "nodes": {"n": {"block": "x"}}}


def _block(name="x", **methods):
    """Create a block class whose methods are replaced by ``methods``."""

    def infer(cls, inputs, args):
        return inputs[0]

    def build(cls, inputs, args, ctx):
        return nn.Identity()

    attributes = {"name": name, "infer": classmethod(infer), "build": classmethod(build)}
    for key, value in methods.items():
        attributes[key] = classmethod(value) if callable(value) else value
    return type(f"Block_{name}", (Block,), attributes)


def _plugin(*blocks):
    class Plugin(ApiVersion):
        @staticmethod
        @hookimpl
        def cvgraph_blocks():
            return list(blocks)

    return Plugin


def _registry(*blocks):
    return new_registry(plugins=[("broken", _plugin(*blocks))], entry_points=False, strict=True)


def _raise(exception):
    def method(cls, *args):
        raise exception

    return method


@pytest.mark.parametrize(
    "method, exception",
    [("infer", ZeroDivisionError("x")), ("infer", RecursionError("deep")), ("build", KeyError("k")), ("build", MemoryError())],
)
def test_block_method_raising_becomes_located_spec_error(method, exception):
    registry = _registry(_block(**{method: _raise(exception)}))

    with pytest.raises(cvgraph.SpecError, match="bug in the block|failed") as caught:
        cvgraph.build(cvgraph.load_spec(SPEC, registry=registry))

    assert caught.value.node == "n"
    assert type(exception).__name__ in caught.value.message


@pytest.mark.parametrize("value", [None, 5, "3x8x8", {"a": FeatureMap(3, 8, 8)}])
def test_block_infer_returning_non_shape_rejected(value):
    registry = _registry(_block(infer=lambda cls, inputs, args: value))

    with pytest.raises(cvgraph.SpecError, match="returned an invalid shape") as caught:
        cvgraph.build(cvgraph.load_spec(SPEC, registry=registry))

    assert caught.value.node == "n"


def test_block_build_returning_non_module_rejected():
    registry = _registry(_block(build=lambda cls, inputs, args, ctx: "not a module", num_params=lambda cls, i, a: 0))

    with pytest.raises(cvgraph.SpecError, match="not an nn.Module"):
        cvgraph.build(cvgraph.load_spec(SPEC, registry=registry))


@pytest.mark.parametrize("count", [-1, 1.5, "7", None, True])
def test_block_num_params_invalid_rejected(count):
    registry = _registry(_block(num_params=lambda cls, inputs, args: count))

    with pytest.raises(cvgraph.SpecError, match="counted") as caught:
        cvgraph.build(cvgraph.load_spec(SPEC, registry=registry))

    assert caught.value.node == "n"


def test_block_macs_raising_in_summary_rejected():
    registry = _registry(_block(macs=_raise(ValueError("bad"))))

    with pytest.raises(cvgraph.SpecError, match="multiply-accumulates: ValueError") as caught:
        summarize(cvgraph.load_spec(SPEC, registry=registry))

    assert caught.value.node == "n"


@pytest.mark.parametrize(
    "attributes, fragment",
    [
        ({"arity": "one"}, "invalid arity"),
        ({"arity": (2, 1)}, "invalid arity"),
        ({"arity": (-1, None)}, "invalid arity"),
        ({"outputs": "boxes"}, "invalid outputs"),
        ({"outputs": ("a", "a")}, "invalid outputs"),
        ({"outputs": ("a.b",)}, "invalid outputs"),
        ({"outputs": ()}, "invalid outputs"),
        ({"name": "torch.nn.Conv2d"}, "invalid name"),
        ({"name": ""}, "invalid name"),
    ],
)
def test_invalid_block_class_rejected_at_registration(attributes, fragment):
    with pytest.raises(PluginError, match=fragment):
        _registry(_block(**attributes))


@pytest.mark.parametrize("returned", [5, [object], [int], ["conv2d"]])
def test_hook_returning_garbage_rejected(returned):
    class Plugin(ApiVersion):
        @staticmethod
        @hookimpl
        def cvgraph_blocks():
            return returned

    with pytest.raises(PluginError, match="broken"):
        new_registry(plugins=[("broken", Plugin)], entry_points=False, strict=True)


def test_hook_raising_rejected_and_nothing_registered():
    class Plugin(ApiVersion):
        @staticmethod
        @hookimpl
        def cvgraph_blocks():
            raise RuntimeError("boom")

    registry = new_registry(entry_points=False)
    with pytest.raises(PluginError, match="failed in a hook: RuntimeError: boom"):
        registry.register_plugin(Plugin, namespace="broken")

    assert [p.name for p in registry.plugins] == ["cvgraph"]


def _install_fake_distribution(folder, module_source: str) -> None:
    """Write a module and a dist-info folder that declares it as a cvgraph plugin."""
    (folder / "brokenplug_mod.py").write_text(module_source)
    info = folder / "brokenplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[cvgraph.plugins]\nbrokenplug = brokenplug_mod\n")


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
        ("def broken(:\n", "SyntaxError"),
        ("import a_module_that_does_not_exist\n", "ModuleNotFoundError"),
        (
            "import cvgraph\n@cvgraph.hookimpl\ndef cvgraph_plugin_api_version():\n    return 1\n"
            "@cvgraph.hookimpl\ndef cvgraph_blocks():\n    return [42]\n",
            "cvgraph.Block",
        ),
    ],
)
def test_broken_installed_plugin_skipped_with_warning(tmp_path, monkeypatch, source, fragment):
    _install_fake_distribution(tmp_path, source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "brokenplug_mod", raising=False)

    with pytest.warns(UserWarning, match="brokenplug") as caught:
        registry = new_registry()
    model = cvgraph.build("resnet18", registry=registry)

    assert any(fragment in str(w.message) for w in caught)
    assert [p.error for p in registry.plugins if p.name == "brokenplug"][0] is not None
    assert model.cvgraph.name == "resnet18"

    with pytest.raises(PluginError, match="brokenplug"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            new_registry(strict=True)
