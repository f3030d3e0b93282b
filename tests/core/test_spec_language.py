"""The spec language: chains, joins, params, expressions, repeat, define, include, extends, overrides."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

import cvgraph
from cvgraph.pipeline import parse_override


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


SMALL = """
name: small
inputs: {image: {channels: 3}}
params: {width: 8, layers: [1, 2]}
define:
  unit:
    params: {channels: int, stride: 1}
    nodes:
      conv: {block: conv2d, args: {out_channels: "${channels}", kernel_size: 3, stride: "${stride}", padding: 1}}
      act: {block: relu}
nodes:
  stem: {block: conv2d, args: {out_channels: "${width}", kernel_size: 3, padding: 1}}
  stage: {block: unit, repeat: "${layers[1]}", args: {channels: "${width * 2}", stride: "${2 if index == 0 else 1}"}}
  skip: {block: conv2d, from: stem, args: {out_channels: "${width * 2}", kernel_size: 1, stride: 2}}
  join: {block: add, from: [stage, skip]}
  pool: {block: global_avgpool}
  head: {block: linear, args: {out_features: 5}}
outputs: {logits: head, features: join}
"""


def test_yaml_spec_builds_chains_joins_and_repeats(tmp_path):
    model = cvgraph.build(_write(tmp_path / "small.yaml", SMALL))
    out = model(torch.randn(2, 3, 16, 16))

    assert set(out) == {"logits", "features"}
    assert out["logits"].shape == (2, 5)
    assert out["features"].shape == (2, 16, 8, 8)
    assert "stage.0.conv.weight" in model.state_dict()
    assert "stage.1.conv.weight" in model.state_dict()
    assert model.get_submodule("stage.0.conv").stride == (2, 2)
    assert model.get_submodule("stage.1.conv").stride == (1, 1)


def test_json_spec_equals_yaml_spec(tmp_path):
    import yaml

    data = yaml.safe_load(SMALL)
    yaml_spec = cvgraph.load_spec(_write(tmp_path / "small.yaml", SMALL))
    json_spec = cvgraph.load_spec(_write(tmp_path / "small.json", json.dumps(data, indent="\t")))

    assert json_spec.fingerprint == yaml_spec.fingerprint


def test_params_override_in_python_and_set_syntax(tmp_path):
    path = _write(tmp_path / "small.yaml", SMALL)
    spec = cvgraph.load_spec(path, params={"width": 4})
    key, value = parse_override("params.layers=[1, 3]")
    deeper = cvgraph.load_spec(path, overrides={key: value})

    assert spec.params["width"] == 4
    assert spec.args["stem"].out_channels == 4
    assert [n.path for n in deeper.nodes if n.path.startswith("stage.")][-2] == "stage.2.conv"


def test_unknown_param_override_suggests_name(tmp_path):
    path = _write(tmp_path / "small.yaml", SMALL)
    with pytest.raises(cvgraph.SpecError) as caught:
        cvgraph.load_spec(path, params={"widht": 4})

    assert "unknown param 'widht'" in caught.value.message
    assert "'width'" in caught.value.hint


def test_include_by_path_and_extends_by_zoo_name(tmp_path):
    _write(
        tmp_path / "lib.yaml",
        """
        define:
          double:
            nodes:
              a: {block: conv2d, args: {out_channels: 4, kernel_size: 1}}
              b: {block: conv2d, args: {out_channels: 4, kernel_size: 1}}
        """,
    )
    path = _write(
        tmp_path / "net.yaml",
        """
        name: net
        include: [lib.yaml]
        inputs: {image: {channels: 3}}
        nodes:
          body: {block: double}
        """,
    )
    model = cvgraph.build(path)
    assert sorted(k for k in model.state_dict() if k.endswith("weight")) == ["body.a.weight", "body.b.weight"]

    child = _write(tmp_path / "child.yaml", "name: small_resnet\nextends: resnet18\nparams: {num_classes: 3}\n")
    spec = cvgraph.load_spec(child)
    assert spec.name == "small_resnet"
    assert spec.args["fc"].out_features == 3


def test_yaml_1_1_surprises_are_plain_values(tmp_path):
    path = _write(
        tmp_path / "s.yaml",
        """
        name: s
        inputs: {image: {channels: 3}}
        params: {on: 1e-3, no: no}
        nodes:
          bn: {block: batchnorm2d, args: {eps: "${on}"}}
        """,
    )
    spec = cvgraph.load_spec(path)

    assert spec.params == {"on": 0.001, "no": "no"}
    assert spec.args["bn"].eps == 0.001


def test_when_false_passes_input_through(tmp_path):
    path = _write(
        tmp_path / "w.yaml",
        """
        name: w
        inputs: {image: {channels: 3}}
        params: {use_bn: false}
        nodes:
          conv: {block: conv2d, args: {out_channels: 4, kernel_size: 1}}
          bn: {block: batchnorm2d, when: "${use_bn}"}
          act: {block: relu}
        """,
    )
    without = cvgraph.build(path)
    with_bn = cvgraph.build(path, params={"use_bn": True})

    assert not any(k.startswith("bn.") for k in without.state_dict())
    assert any(k.startswith("bn.") for k in with_bn.state_dict())


def test_multi_output_subgraph_ports(tmp_path):
    path = _write(
        tmp_path / "p.yaml",
        """
        name: p
        inputs: {image: {channels: 3}}
        define:
          two:
            nodes:
              a: {block: conv2d, args: {out_channels: 4, kernel_size: 1}}
              b: {block: conv2d, args: {out_channels: 6, kernel_size: 1}}
            outputs: {left: a, right: b}
        nodes:
          split: {block: two}
          merged: {block: concat, from: [split.left, split.right]}
        """,
    )
    out = cvgraph.build(path)(torch.randn(1, 3, 5, 5))

    assert out.shape == (1, 10, 5, 5)


def test_large_chain_does_not_hit_recursion_limit():
    nodes = {f"n{i}": {"block": "relu"} for i in range(10_000)}
    spec = cvgraph.load_spec({"name": "chain", "inputs": {"x": {"channels": 1}}, "nodes": nodes})
    report = cvgraph.infer_shapes(spec, {"x": "1x1x2x2"})

    assert len(report.nodes) == 10_000


def test_include_library_by_zoo_name(tmp_path):
    path = _write(
        tmp_path / "net.yaml",
        """
        name: net
        include: [_resnet_blocks]
        inputs: {image: {channels: 3}}
        nodes:
          block: {block: basic_block, args: {planes: 3}}
        """,
    )
    model = cvgraph.build(path)

    assert "block.conv1.weight" in model.state_dict()
