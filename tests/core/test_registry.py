"""The block registry: pluggy hooks, namespaces, duplicates and lookups."""

from __future__ import annotations

import pytest
from torch import nn

import cvgraph
from cvgraph import Block, hookimpl
from cvgraph.registry import new_registry


class _Twice(Block):
    name = "relu"
    description = "A second block named relu."

    @classmethod
    def infer(cls, inputs, args):
        return inputs[0]

    @classmethod
    def build(cls, inputs, args, ctx):
        return nn.ReLU()


class _Plugin:
    @hookimpl
    def cvgraph_plugin_api_version(self):
        return 1

    @hookimpl
    def cvgraph_blocks(self):
        return [_Twice]


def test_builtins_register_through_plugin_hooks():
    registry = new_registry(entry_points=False)

    assert registry.plugins[0].distribution == "cvgraph"
    assert "cvgraph:conv2d" in registry.plugins[0].blocks
    assert registry.block("conv2d") is registry.block("cvgraph:conv2d")


def test_same_full_name_twice_names_both_sources():
    registry = new_registry(entry_points=False)
    with pytest.warns(cvgraph.PluginWarning, match="reachable only as 'first:relu'"):
        registry.register_plugin(_Plugin(), namespace="first", distribution="first-dist", version="1.0")

    with pytest.raises(cvgraph.PluginError) as caught:
        registry.register_plugin(_Plugin(), namespace="first", distribution="second-dist", version="2.0")

    assert "first-dist 1.0" in caught.value.message
    assert "second-dist 2.0" in caught.value.message


def test_builtin_keeps_short_name_beside_plugin():
    with pytest.warns(cvgraph.PluginWarning, match="reachable only as 'mine:relu'"):
        registry = new_registry(entry_points=False, plugins=[("mine", _Plugin())])

    assert registry.block("relu") is registry.block("cvgraph:relu")
    assert registry.block("mine:relu") is _Twice


def test_unknown_block_lists_near_matches():
    registry = new_registry(entry_points=False)

    with pytest.raises(cvgraph.SpecError) as caught:
        registry.block("batchnorm")

    assert "'batchnorm2d'" in caught.value.hint
