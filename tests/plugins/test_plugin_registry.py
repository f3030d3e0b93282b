"""Registry checks on plugin objects: names, namespaces, the contract of each class, strict mode."""

from __future__ import annotations

import types
from typing import Any, Callable, Sequence

import pytest
from pydantic import ConfigDict
from torch import nn

import cvgraph
from cvgraph import Block, BlockArgs, FeatureMap, Loss, PluginError, PluginWarning, SpecError
from cvgraph.block import expect_feature_map
from cvgraph.cli import Command


class ScaleArgs(BlockArgs):
    factor: float = 2.0


class Scale(Block):
    name = "scale"
    description = "Multiply by a constant."
    Args = ScaleArgs

    @classmethod
    def infer(cls, inputs: Sequence[Any], args: ScaleArgs) -> FeatureMap:  # type: ignore[override]
        return expect_feature_map(inputs[0])

    @classmethod
    def build(cls, inputs: Sequence[Any], args: ScaleArgs, ctx: Any) -> nn.Module:  # type: ignore[override]
        return nn.Identity()


class Relu(Scale):
    name = "relu"


class Head(Scale):
    name = "tiny_head"
    head = True


class L1(Loss):
    name = "l1"
    description = "Mean absolute error."

    @classmethod
    def build(cls, args: BlockArgs) -> nn.Module:
        return nn.L1Loss()


def make_plugin(name: str = "plugin", *, version: Any = 1, **hooks: Callable[[], Any]) -> types.ModuleType:
    """Return a module whose hooks are the given functions, marked with @cvgraph.hookimpl."""
    module = types.ModuleType(name)
    if version is not None:
        module.cvgraph_plugin_api_version = cvgraph.hookimpl(lambda: version)  # type: ignore[attr-defined]
    for hook, function in hooks.items():
        function.__name__ = hook
        setattr(module, hook, cvgraph.hookimpl(function))
    return module


def load(*plugins: tuple[str, Any], strict: bool = False) -> cvgraph.Registry:
    return cvgraph.new_registry(plugins=plugins, entry_points=False, strict=strict)


def test_namespaced_and_short_names_resolve():
    registry = load(("mine", make_plugin(cvgraph_blocks=lambda: [Scale])))

    assert registry.block("mine:scale") is Scale
    assert registry.block("scale") is Scale
    assert registry.block("conv2d") is registry.block("cvgraph:conv2d")


def test_short_name_of_two_plugins_is_ambiguous():
    registry = load(
        ("first", make_plugin("first", cvgraph_blocks=lambda: [Scale])),
        ("second", make_plugin("second", cvgraph_blocks=lambda: [Scale])),
    )

    with pytest.raises(SpecError, match="ambiguous") as caught:
        registry.block("scale")
    assert "first:scale" in caught.value.hint
    assert "second:scale" in caught.value.hint
    assert registry.block("second:scale") is Scale


def test_builtin_keeps_short_name_with_warning():
    with pytest.warns(PluginWarning, match="relu") as caught:
        registry = load(("mine", make_plugin(cvgraph_blocks=lambda: [Relu])))

    assert "short name of its block 'relu', so the plugin's is reachable only as 'mine:relu'" in str(caught[0].message)
    assert registry.block("relu") is registry.block("cvgraph:relu")
    assert registry.block("mine:relu") is Relu
    assert registry.plugins[-1].warnings


def test_builtin_short_name_strict_raises():
    with pytest.raises(PluginError, match="relu"):
        load(("mine", make_plugin(cvgraph_blocks=lambda: [Relu])), strict=True)


def test_head_and_loss_registered_by_kind():
    registry = load(("mine", make_plugin(cvgraph_heads=lambda: [Head], cvgraph_losses=lambda: [L1])))

    assert [e.full_name for e in registry.heads() if e.namespace == "mine"] == ["mine:tiny_head"]
    assert registry.loss("l1") is L1
    assert registry.plugins[-1].heads == ["mine:tiny_head"]
    assert registry.plugins[-1].losses == ["mine:l1"]


def test_cli_command_registered():
    command = Command("hello", "Say hello.", lambda parser: None, lambda args: 0)
    registry = load(("mine", make_plugin(cvgraph_cli_commands=lambda: [command])))

    assert [e.full_name for e in registry.commands()] == ["mine:hello"]


class NoInfer(Block):
    name = "no_infer"

    @classmethod
    def build(cls, inputs: Any, args: Any, ctx: Any) -> nn.Module:
        return nn.Identity()


class PlainFunctionInfer(Scale):
    name = "plain_infer"

    def infer(self, inputs, args):  # type: ignore[no-untyped-def, override]
        return inputs[0]


class NotBlockArgs(Scale):
    name = "loose_args"

    class Args:  # type: ignore[no-redef]
        factor = 2.0


class ExtraAllowedArgs(ScaleArgs):
    model_config = ConfigDict(extra="allow")


class ExtraAllowed(Scale):
    name = "extra_allowed"
    Args = ExtraAllowedArgs


class Unschemable(BlockArgs):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    module: nn.Module | None = None


class UnschemableBlock(Scale):
    name = "unschemable"
    Args = Unschemable


class BadName(Scale):
    name = "bad name"


class BadArity(Scale):
    name = "bad_arity"
    arity = (2, 1)


class BadOutputs(Scale):
    name = "bad_outputs"
    outputs = ("boxes", "boxes")


class NotMarkedHead(Scale):
    name = "not_marked_head"


class LossWithoutBuild(Loss):
    name = "no_build"


INVALID_PLUGINS = [
    ("no shape function", dict(cvgraph_blocks=lambda: [NoInfer]), "has no shape function"),
    ("infer not a classmethod", dict(cvgraph_blocks=lambda: [PlainFunctionInfer]), "has no shape function"),
    ("Args not BlockArgs", dict(cvgraph_blocks=lambda: [NotBlockArgs]), "Args must be a subclass of cvgraph.BlockArgs"),
    ("Args allows extra", dict(cvgraph_blocks=lambda: [ExtraAllowed]), "Args must reject unknown arguments"),
    ("Args without schema", dict(cvgraph_blocks=lambda: [UnschemableBlock]), "Args has no JSON Schema"),
    ("invalid name", dict(cvgraph_blocks=lambda: [BadName]), "invalid name 'bad name'"),
    ("invalid arity", dict(cvgraph_blocks=lambda: [BadArity]), "invalid arity"),
    ("duplicate outputs", dict(cvgraph_blocks=lambda: [BadOutputs]), "invalid outputs"),
    ("not a class", dict(cvgraph_blocks=lambda: ["conv2d"]), "not a subclass of cvgraph.Block"),
    ("head without flag", dict(cvgraph_heads=lambda: [NotMarkedHead]), "does not set head = True"),
    ("loss without build", dict(cvgraph_losses=lambda: [LossWithoutBuild]), "loss 'no_build' has no builder"),
    ("block as loss", dict(cvgraph_losses=lambda: [Scale]), "not a subclass of cvgraph.Loss"),
    ("name twice", dict(cvgraph_blocks=lambda: [Scale, Scale]), "'broken:scale' is registered twice"),
    ("hook returns no list", dict(cvgraph_blocks=lambda: Scale), "must return a list"),
    ("hook raises", dict(cvgraph_blocks=lambda: 1 / 0), "failed in a hook: ZeroDivisionError"),
    ("missing spec folder", dict(cvgraph_spec_dirs=lambda: ["/nonexistent/specs"]), "spec folder that does not exist"),
    ("command without run", dict(cvgraph_cli_commands=lambda: [types.SimpleNamespace(name="x", help="")]), "no callable 'add_arguments'"),
]


@pytest.mark.parametrize("hooks,message", [case[1:] for case in INVALID_PLUGINS], ids=[case[0] for case in INVALID_PLUGINS])
def test_invalid_plugin_warns_and_is_skipped(hooks, message):
    good = make_plugin("good", cvgraph_blocks=lambda: [Scale])
    broken = make_plugin("broken", **hooks)

    with pytest.warns(PluginWarning, match="the plugin is skipped") as caught:
        registry = load(("broken", broken), ("good", good))

    assert message in str(caught[0].message)
    assert registry.plugins[1].name == "broken"
    assert message in registry.plugins[1].error
    assert not any(e.namespace == "broken" for e in registry.blocks() + registry.losses())
    assert registry.block("scale") is Scale
    assert registry.block("conv2d").name == "conv2d"


@pytest.mark.parametrize("hooks,message", [case[1:] for case in INVALID_PLUGINS], ids=[case[0] for case in INVALID_PLUGINS])
def test_invalid_plugin_strict_raises(hooks, message):
    broken = make_plugin("broken", **hooks)

    with pytest.raises(PluginError) as caught:
        load(("broken", broken), strict=True)

    assert message in caught.value.message
    assert caught.value.distribution == "broken"


def test_missing_api_version_rejected():
    with pytest.raises(PluginError, match="does not declare the plugin API version") as caught:
        load(("old", make_plugin(version=None, cvgraph_blocks=lambda: [Scale])), strict=True)
    assert "cvgraph_plugin_api_version" in caught.value.hint


@pytest.mark.parametrize("version", [2, 0, "1", True])
def test_other_api_version_rejected(version):
    with pytest.raises(PluginError, match="plugin API version") as caught:
        load(("future", make_plugin(version=version, cvgraph_blocks=lambda: [Scale])), strict=True)
    assert caught.value.expected == 1
    assert caught.value.found == repr(version)


def test_unmarked_hook_rejected():
    module = make_plugin()
    module.cvgraph_blocks = lambda: [Scale]  # type: ignore[attr-defined]

    with pytest.raises(PluginError, match="without the @cvgraph.hookimpl marker"):
        load(("unmarked", module), strict=True)


def test_misspelled_hook_rejected():
    with pytest.raises(PluginError, match="unknown hook 'cvgraph_block'") as caught:
        load(("typo", make_plugin(cvgraph_block=lambda: [Scale])), strict=True)
    assert caught.value.hint == "did you mean 'cvgraph_blocks'?"


def test_taken_namespace_names_both_sources():
    registry = load(("mine", make_plugin(cvgraph_blocks=lambda: [Scale])))

    with pytest.raises(PluginError, match="namespace 'mine' is registered twice") as caught:
        registry.register_plugin(make_plugin("other", cvgraph_blocks=lambda: [Head]), namespace="mine", distribution="other-dist", version="2.0")
    assert "other-dist 2.0" in caught.value.message
    assert "'mine'" in caught.value.message
    assert registry.block("scale") is Scale


def test_builtin_namespace_is_taken():
    with pytest.warns(PluginWarning, match="namespace 'cvgraph' is registered twice"):
        registry = load(("cvgraph", make_plugin(cvgraph_blocks=lambda: [Scale])))
    with pytest.raises(SpecError, match="unknown block 'scale'"):
        registry.block("scale")


def test_failed_plugin_leaves_nothing_registered():
    registry = load(("mine", make_plugin(cvgraph_blocks=lambda: [Scale])))
    broken = make_plugin("broken", cvgraph_blocks=lambda: [Head], cvgraph_losses=lambda: [LossWithoutBuild])

    with pytest.raises(PluginError):
        registry.register_plugin(broken, namespace="broken")

    assert [e.full_name for e in registry.heads() if e.namespace == "broken"] == []
    assert registry.manager.get_plugin("broken") is None
    registry.register_plugin(make_plugin("fixed", cvgraph_heads=lambda: [Head]), namespace="broken")
    assert registry.block("broken:tiny_head") is Head


def test_unknown_loss_hint_lists_losses():
    registry = load()

    with pytest.raises(SpecError, match="unknown loss 'dice'") as caught:
        registry.loss("dice")
    assert caught.value.hint == "run 'cvgraph blocks' to list the registered losses"


def test_builtin_blocks_pass_the_contract():
    registry = load()
    for entry in registry.blocks():
        assert entry.cls.description, entry.full_name
        assert entry.namespace == "cvgraph"


def _spec_folder(folder, *names: str):
    folder.mkdir()
    for name in names:
        (folder / f"{name}.yaml").write_text(
            f"name: {name}\ninputs: {{image: {{channels: 3}}}}\nnodes: {{conv: {{block: conv2d, args: {{out_channels: 4, kernel_size: 1}}}}}}\n"
        )
    return folder


def test_plugin_spec_named_like_builtin_keeps_builtin(tmp_path):
    from cvgraph.zoo import find_spec, zoo_names

    folder = _spec_folder(tmp_path / "specs", "resnet50", "tiny")
    with pytest.warns(PluginWarning, match="spec 'resnet50'"):
        registry = load(("mine", make_plugin(cvgraph_spec_dirs=lambda: [folder])))

    assert find_spec("resnet50", registry).parent.name == "specs"
    assert find_spec("resnet50", registry) != folder / "resnet50.yaml"
    assert find_spec("mine:resnet50", registry) == folder / "resnet50.yaml"
    assert find_spec("tiny", registry) == folder / "tiny.yaml"
    assert {"resnet50", "mine:resnet50", "tiny"} <= set(zoo_names(registry))


def test_plugin_spec_in_two_plugins_is_ambiguous(tmp_path):
    from cvgraph.zoo import find_spec, zoo_names

    first = _spec_folder(tmp_path / "first", "tiny")
    second = _spec_folder(tmp_path / "second", "tiny")
    registry = load(
        ("first", make_plugin("first", cvgraph_spec_dirs=lambda: [first])),
        ("second", make_plugin("second", cvgraph_spec_dirs=lambda: [second])),
    )

    with pytest.raises(SpecError, match="zoo spec name 'tiny' is ambiguous") as caught:
        find_spec("tiny", registry)
    assert caught.value.hint == "write the namespaced name, one of: first:tiny, second:tiny"
    assert cvgraph.load_spec("second:tiny", registry=registry).name == "tiny"
    assert {"first:tiny", "second:tiny"} <= set(zoo_names(registry))
