"""The cvgraph command line, run as a user runs it: a subprocess with real files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest


def cvgraph(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cvgraph", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    from PIL import Image
    from skimage import data

    path = tmp_path_factory.mktemp("images") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def test_validate_reports_outputs_and_valid_sizes(tmp_path):
    result = cvgraph("validate", "resnet18", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "resnet18: valid" in result.stdout
    assert "output logits: Vector(1000)" in result.stdout
    assert "any size from 1" in result.stdout


def test_summary_json_totals_match_torchvision():
    import torchvision

    result = cvgraph("summary", "resnet50", "--input", "1x3x224x224", "--json")
    summary = json.loads(result.stdout)

    assert result.returncode == 0, result.stderr
    assert summary["total_params"] == sum(p.numel() for p in torchvision.models.resnet50().parameters())
    assert round(summary["total_macs"] / 1e9, 2) == 4.09
    assert summary["nodes"][0] == {"path": "conv1", "block": "conv2d", "output": "FeatureMap(64x112x112)", "params": 9408, "macs": 118013952, "receptive_field": "7x7"}


def test_summary_set_override_changes_classes():
    result = cvgraph("summary", "resnet18", "--set", "params.num_classes=10")

    assert result.returncode == 0, result.stderr
    assert "logits Vector(10)" in result.stdout


@pytest.mark.parametrize("fmt, start", [("mermaid", "flowchart TD"), ("dot", 'digraph "resnet18"')])
def test_graph_formats(fmt, start):
    result = cvgraph("graph", "resnet18", "--format", fmt)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(start)
    assert "layer4.1.relu" in result.stdout


def test_run_prints_topk_for_photo_with_saved_weights(tmp_path, astronaut_png):
    import cvgraph as api

    model = api.build("resnet18", params={"num_classes": 10})
    weights = api.save_weights(model, tmp_path / "r18.safetensors")

    result = cvgraph("run", "resnet18", "--set", "params.num_classes=10", "--image", str(astronaut_png), "--weights", str(weights), "--topk", "3")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("astronaut.png:")
    assert len(lines) == 4
    probabilities = [float(line.split()[1]) for line in lines[1:]]
    assert probabilities == sorted(probabilities, reverse=True)


def test_schema_is_json_with_block_args():
    result = cvgraph("schema")
    schema = json.loads(result.stdout)

    assert result.returncode == 0
    assert "args_cvgraph_conv2d" in schema["$defs"]
    assert "out_channels" in schema["$defs"]["args_cvgraph_conv2d"]["properties"]


def test_zoo_specs_validate_against_schema():
    import jsonschema
    import yaml

    import cvgraph as api
    from cvgraph.zoo import zoo_specs

    schema = json.loads(cvgraph("schema").stdout)
    for spec in zoo_specs(api.default_registry(), libraries=True):
        jsonschema.validate(yaml.safe_load(spec.path.read_text()), schema)


@pytest.mark.parametrize(
    "args, message",
    [
        (["validate", "missing.yaml"], "spec file not found"),
        (["validate", "resnet5O"], "did you mean 'resnet50'"),
        (["summary", "resnet18", "--input", "1x3xbad"], "invalid input size"),
        (["summary", "resnet18", "--set", "params.widht=3"], "unknown param 'widht'"),
        (["run", "resnet18", "--image", "nowhere.png"], "image file not found"),
    ],
)
def test_failing_command_prints_one_message_without_traceback(args, message, tmp_path):
    result = cvgraph(*args, cwd=tmp_path)

    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")


def test_broken_image_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")

    result = cvgraph("run", "resnet18", "--image", str(broken))

    assert result.returncode == 1
    assert "cannot read the image" in result.stderr
    assert "Traceback" not in result.stderr


def test_summary_takes_one_input_size_per_named_input(tmp_path):
    spec = tmp_path / "two.yaml"
    spec.write_text(
        "name: two\n"
        "inputs: {rgb: {channels: 3}, depth: {channels: 1}}\n"
        "nodes:\n"
        "  a: {block: conv2d, from: rgb, args: {out_channels: 4, kernel_size: 1}}\n"
        "  b: {block: conv2d, from: depth, args: {out_channels: 4, kernel_size: 1}}\n"
        "  c: {block: concat, from: [a, b]}\n"
    )

    result = cvgraph("summary", str(spec), "--input", "rgb=1x3x8x8", "--input", "depth=1x1x8x8", "--json")
    rows = {row["path"]: row for row in json.loads(result.stdout)["nodes"]}

    assert result.returncode == 0, result.stderr
    assert rows["c"]["output"] == "FeatureMap(8x8x8)"
    assert rows["b"]["macs"] == 4 * 8 * 8
