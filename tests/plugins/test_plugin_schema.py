"""The editor JSON Schema with plugin blocks: every zoo and plugin spec validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from cvgraph.cli import main
from cvgraph.registry import default_registry
from cvgraph.zoo import zoo_specs

pytestmark = pytest.mark.usefixtures("attention_plugin")


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> jsonschema.Draft202012Validator:
    """Return a validator of the schema that 'cvgraph schema -o FILE' writes."""
    path = tmp_path_factory.mktemp("schema") / "cvgraph-schema.json"
    assert main(["schema", "-o", str(path)]) == 0
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _spec_files() -> list[Path]:
    return [spec.path for spec in zoo_specs(default_registry(), libraries=True)]


def test_schema_has_plugin_blocks(validator):
    definitions = validator.schema["$defs"]
    block_names = definitions["NodeModel"]["properties"]["block"]["examples"]

    assert "args_attention_se" in definitions
    assert "args_attention_classifier" in definitions
    assert {"se", "attention:se", "cbam", "classifier", "conv2d"} <= set(block_names)


def test_every_zoo_and_plugin_spec_validates(validator):
    files = _spec_files()
    names = {path.stem for path in files}

    assert {"resnet50", "resnet34", "_resnet_blocks", "se_resnet50", "cbam_resnet18"} <= names
    for path in files:
        errors = [error.message for error in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path


def _node(block: str, args: dict) -> dict:
    return {"name": "check", "inputs": {"image": {"channels": 3}}, "nodes": {"node": {"block": block, "args": args}}}


@pytest.mark.parametrize(
    "block,args",
    [
        ("se", {"reductio": 4}),
        ("attention:se", {"reduction": 0}),
        ("cbam", {"reduction": "four"}),
        ("classifier", {}),
        ("attention:classifier", {"num_classes": 10, "dropout": 1.0}),
    ],
)
def test_invalid_plugin_args_fail_schema(validator, block, args):
    assert list(validator.iter_errors(_node(block, args)))


@pytest.mark.parametrize(
    "block,args",
    [
        ("se", {"reduction": 4}),
        ("attention:cbam", {"reduction": "${reduction}", "spatial_kernel_size": 3}),
        ("classifier", {"num_classes": 10, "dropout": 0.2}),
    ],
)
def test_valid_plugin_args_pass_schema(validator, block, args):
    assert list(validator.iter_errors(_node(block, args))) == []


def test_nested_args_definitions_stay_apart():
    """Two plugin blocks whose Args use different enums named Mode each keep their own."""
    import enum
    import types

    from torch import nn

    import cvgraph
    from cvgraph.schema import spec_schema

    def block_with_mode(block_name: str, values: list[str]) -> type:
        mode = enum.Enum("Mode", {value: value for value in values})
        args = type("Args", (cvgraph.BlockArgs,), {"__annotations__": {"mode": mode}})
        return type(
            block_name.title(),
            (cvgraph.Block,),
            {
                "name": block_name,
                "description": f"{block_name} with a mode.",
                "Args": args,
                "infer": classmethod(lambda cls, inputs, args: inputs[0]),
                "build": classmethod(lambda cls, inputs, args, ctx: nn.Identity()),
            },
        )

    plugin = types.ModuleType("modes")
    plugin.cvgraph_plugin_api_version = cvgraph.hookimpl(lambda: 1)
    blocks = [block_with_mode("first_mode", ["fast", "slow"]), block_with_mode("second_mode", ["nearest", "bilinear"])]
    plugin.cvgraph_blocks = cvgraph.hookimpl(lambda: blocks)
    registry = cvgraph.new_registry(plugins=[("modes", plugin)], entry_points=False, strict=True)
    validator = jsonschema.Draft202012Validator(spec_schema(registry))

    assert list(validator.iter_errors(_node("first_mode", {"mode": "fast"}))) == []
    assert list(validator.iter_errors(_node("second_mode", {"mode": "bilinear"}))) == []
    assert list(validator.iter_errors(_node("first_mode", {"mode": "bilinear"})))
    assert list(validator.iter_errors(_node("second_mode", {"mode": "fast"})))
