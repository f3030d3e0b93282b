"""The installed cvgraph-attention plugin, used from specs through the CLI and the Python API."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
import torchvision
from plugin_helpers import run_cli

import cvgraph
from cvgraph.cli import main

LAYERS = [3, 4, 6, 3]
PLANES = [64, 128, 256, 512]
TORCHVISION_RESNET50_PARAMS = 25_557_032

USER_SPEC = """\
name: attention_net
inputs:
  image: {channels: 3}
nodes:
  stem: {block: conv2d, args: {out_channels: 32, kernel_size: 3, stride: 2, padding: 1}}
  se: {block: se, args: {reduction: 8}}
  cbam: {block: "attention:cbam", args: {reduction: 4, spatial_kernel_size: 3}}
  head: {block: classifier, args: {num_classes: 5, dropout: 0.2}}
outputs:
  logits: head
"""


@pytest.fixture
def user_spec(tmp_path: Path, attention_plugin) -> Path:
    path = tmp_path / "attention_net.yaml"
    path.write_text(USER_SPEC)
    return path


def test_cli_validates_user_spec_with_plugin_blocks(user_spec, tmp_path):
    result = run_cli("validate", str(user_spec), "--input", "2x3x32x32", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "attention_net: valid (4 nodes)" in result.stdout
    assert "output logits: Vector(5)" in result.stdout
    assert result.stderr == ""


def test_cli_zoo_lists_plugin_specs(attention_plugin, capsys):
    assert main(["zoo"]) == 0

    assert {"se_resnet50", "cbam_resnet18", "resnet50"} <= set(capsys.readouterr().out.split())


def test_cli_summary_of_plugin_spec(attention_plugin, tmp_path):
    result = run_cli("summary", "attention:se_resnet50", "--input", "1x3x224x224", "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    se_rows = [row for row in report["nodes"] if row["path"].endswith(".se")]
    assert len(se_rows) == sum(LAYERS)
    assert all(row["block"] == "se" for row in se_rows)
    assert report["total_params"] == TORCHVISION_RESNET50_PARAMS + _se_params()


def test_cli_plugins_lists_attention(attention_plugin, capsys):
    assert main(["plugins", "--json"]) == 0
    records = {record["name"]: record for record in json.loads(capsys.readouterr().out)}

    attention = records["attention"]
    assert attention["distribution"] == "cvgraph-attention"
    assert attention["version"] == attention_plugin.version
    assert attention["blocks"] == ["attention:se", "attention:cbam"]
    assert attention["heads"] == ["attention:classifier"]
    assert attention["losses"] == ["attention:dice", "attention:focal"]
    assert attention["specs"] == ["cbam_resnet18", "se_resnet50"]
    assert attention["error"] is None


def test_cli_blocks_lists_plugin_blocks_with_schema(attention_plugin, capsys):
    assert main(["blocks", "--json"]) == 0
    records = {record["full_name"]: record for record in json.loads(capsys.readouterr().out)}
    assert main(["blocks", "cbam"]) == 0
    text = capsys.readouterr().out

    assert records["attention:se"]["kind"] == "block"
    assert records["attention:se"]["args"]["properties"]["reduction"]["minimum"] == 1
    assert records["attention:classifier"]["kind"] == "head"
    assert records["attention:dice"]["kind"] == "loss"
    assert records["cvgraph:conv2d"]["args"]["required"] == ["out_channels", "kernel_size"]
    assert all(record["description"] for record in records.values())
    assert text.startswith("attention:cbam  [block]  CBAM channel then spatial attention")
    assert "    spatial_kernel_size: integer (>= 1, default 7)" in text


def test_python_api_builds_user_spec(user_spec):
    model = cvgraph.build(user_spec).eval()

    logits = model(torch.randn(2, 3, 32, 32))

    assert logits.shape == (2, 5)
    assert type(model.se).__module__ == "torchvision.ops.misc"
    assert type(model.head).__name__ == "Classifier"


def _se_params() -> int:
    total = 0
    for planes, blocks in zip(PLANES, LAYERS):
        channels = planes * 4
        hidden = channels // 16
        total += blocks * (2 * channels * hidden + hidden + channels)
    return total


def test_se_resnet50_keys_and_params(attention_plugin):
    model = cvgraph.build("se_resnet50")
    reference = torchvision.models.resnet50(weights=None)

    keys = set(model.state_dict())
    reference_keys = set(reference.state_dict())
    added = keys - reference_keys

    assert reference_keys <= keys
    assert len(added) == 4 * sum(LAYERS)
    assert all(".se.fc1." in key or ".se.fc2." in key for key in added)
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_RESNET50_PARAMS + _se_params()


def test_se_resnet50_gates_before_residual_add(attention_plugin):
    """With every SE gate at sigmoid(0) = 0.5, SE-ResNet-50 equals ResNet-50 with bn3 halved.

    Halving bn3 halves the residual branch only; an SE block after the add
    would also halve the shortcut and give different outputs.
    """
    torch.manual_seed(0)
    model = cvgraph.build("se_resnet50").eval()
    reference = torchvision.models.resnet50(weights=None).eval()

    state = model.state_dict()
    state.update(reference.state_dict())
    for key in state:
        if ".se.fc2." in key:
            state[key] = torch.zeros_like(state[key])
    model.load_state_dict(state)
    with torch.no_grad():
        for name, module in reference.named_modules():
            if name.endswith("bn3"):
                module.weight.mul_(0.5)
                module.bias.mul_(0.5)

    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = reference(image)
        found = model(image)

    torch.testing.assert_close(found, expected, rtol=1e-4, atol=1e-4)


def test_cbam_resnet18_uses_head_node(attention_plugin):
    model = cvgraph.build("cbam_resnet18", params={"num_classes": 10, "dropout": 0.1}).eval()

    logits = model(torch.randn(2, 3, 64, 64))

    assert logits.shape == (2, 10)
    assert model.head.dropout.p == 0.1
    assert model.get_submodule("layer3.0.cbam.spatial").kernel_size == (7, 7)


@pytest.mark.parametrize(
    "params,argument",
    [({"num_classes": 0}, "num_classes"), ({"dropout": 1.5}, "dropout"), ({"dropout": "high"}, "dropout")],
)
def test_invalid_head_args_name_the_arg(attention_plugin, params, argument):
    with pytest.raises(cvgraph.SpecError) as caught:
        cvgraph.load_spec("cbam_resnet18", params=params)

    assert f"args of block 'classifier': invalid '{argument}'" in caught.value.message
    assert caught.value.node == "head"
    assert caught.value.file.endswith("cbam_resnet18.yaml")


def test_invalid_plugin_block_args_located_in_user_spec(tmp_path, attention_plugin):
    path = tmp_path / "typo.yaml"
    path.write_text(USER_SPEC.replace("reduction: 8", "reductio: 8"))

    with pytest.raises(cvgraph.SpecError) as caught:
        cvgraph.load_spec(path)

    assert caught.value.message == "args of block 'se': unknown key 'reductio'"
    assert caught.value.hint == "did you mean 'reduction'?"
    assert caught.value.line == 6
    assert caught.value.node == "se"


def test_head_from_python(attention_plugin):
    head = cvgraph.head("classifier", "512x7x7", num_classes=3, dropout=0.5).eval()

    assert head(torch.randn(4, 512, 7, 7)).shape == (4, 3)
    assert head.fc.in_features == 512


def test_head_from_python_rejects_invalid_input(attention_plugin):
    with pytest.raises(cvgraph.SpecError, match="invalid 'num_classes'"):
        cvgraph.head("attention:classifier", "512x7x7", num_classes=-1)
    with pytest.raises(cvgraph.SpecError, match="'attention:cbam' is a block, not a head"):
        cvgraph.head("cbam", "512x7x7")
    with pytest.raises(cvgraph.SpecError, match="unknown key 'classes'"):
        cvgraph.head("classifier", "512x7x7", classes=3)


def test_loss_from_python(attention_plugin):
    dice = cvgraph.loss("dice", mode="multiclass", smooth=1.0)
    focal = cvgraph.loss("attention:focal", alpha=None, gamma=1.0)

    assert dice(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8))).shape == ()
    assert focal.alpha == -1.0
    assert focal.gamma == 1.0


@pytest.mark.parametrize(
    "name,kwargs,argument",
    [
        ("dice", {"smooth": -1.0}, "smooth"),
        ("dice", {"mode": "multilabel"}, "mode"),
        ("focal", {"alpha": 1.5}, "alpha"),
        ("focal", {"reduction": "max"}, "reduction"),
        ("focal", {"gamma": "2"}, "gamma"),
    ],
)
def test_loss_invalid_args_name_the_arg(attention_plugin, name, kwargs, argument):
    with pytest.raises(cvgraph.SpecError) as caught:
        cvgraph.loss(name, **kwargs)
    assert f"args of loss '{name}': invalid '{argument}'" in caught.value.message


def test_include_names_library_of_zoo(tmp_path, attention_plugin):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            name: tiny
            include: [cvgraph:_resnet_blocks]
            inputs: {image: {channels: 16}}
            nodes:
              block: {block: basic_block, args: {planes: 16}}
              se: {block: se, args: {reduction: 4}}
            """
        )
    )

    report = cvgraph.infer_shapes(spec, {"image": "1x16x8x8"})

    assert [str(shape) for shape in report.outputs.values()] == ["16x8x8"]
