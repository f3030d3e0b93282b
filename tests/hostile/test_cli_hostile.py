"""Every cvgraph command given a hostile spec exits non-zero with one clear message and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cvgraph.cli import main

from .test_hostile_yaml import BILLION_LAUGHS

HEADER = "name: hostile\ninputs: {image: {channels: 3, height: 32, width: 32}}\n"

HOSTILE_SPECS: dict[str, str | bytes] = {
    "alias_bomb": BILLION_LAUGHS,
    "python_tag": HEADER + 'params: {p: !!python/object/apply:os.system ["touch {canary}"]}\nnodes: {n: {block: relu}}\n',
    "deep_nesting": HEADER + "nodes: " + "{a: " * 100 + "1" + "}" * 100 + "\n",
    "huge_channels": HEADER + "nodes: {c: {block: conv2d, args: {out_channels: 1000000000, kernel_size: 3}}}\n",
    "huge_repeat": HEADER + "nodes: {r: {block: relu, repeat: 10000000}}\n",
    "dotted_block": HEADER + "nodes: {c: {block: torch.nn.Conv2d}}\n",
    "expression_canary": HEADER + "nodes: {c: {block: relu, when: \"${__import__('os').system('touch {canary}')}\"}}\n",
    "cycle": HEADER + "nodes: {a: {block: relu, from: b}, b: {block: relu}}\n",
    "duplicate_key": HEADER + "nodes: {a: {block: relu}, a: {block: relu}}\n",
    "nan": HEADER + "nodes: {d: {block: dropout, args: {p: .nan}}}\n",
    "huge_int": HEADER + "nodes: {c: {block: linear, args: {out_features: 99999999999999999999999}}}\n",
    "non_utf8": HEADER.encode() + b"description: caf\xe9\nnodes: {a: {block: relu}}\n",
    "reserved_name": HEADER + "nodes: {training: {block: relu}}\n",
    "not_a_mapping": "[1, 2, 3]\n",
    "empty": "",
    "shape_mismatch": HEADER + "nodes: {a: {block: linear, args: {out_features: 3}}}\n",
}

COMMANDS = [["validate"], ["summary"], ["graph"], ["run", "--image", "missing.png"]]


def _write(tmp_path: Path, case: str) -> tuple[Path, Path]:
    canary = tmp_path / "canary"
    content = HOSTILE_SPECS[case]
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content.replace("{canary}", str(canary)))
    return path, canary


def _check_one_clear_error(status: int, stdout: str, stderr: str) -> None:
    assert status == 1
    assert stderr.startswith("error: ")
    assert stderr.count("error:") == 1
    assert "Traceback" not in stderr
    assert "internal error" not in stderr
    assert stdout == ""


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("case", sorted(HOSTILE_SPECS))
def test_command_rejects_hostile_spec(tmp_path, capsys, case, command):
    path, canary = _write(tmp_path, case)

    status = main([command[0], str(path), *command[1:]])
    captured = capsys.readouterr()

    _check_one_clear_error(status, captured.out, captured.err)
    assert str(path) in captured.err
    assert not canary.exists()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["validate", "/dev/zero"], "not a regular file"),
        (["validate", "missing.yaml"], "spec file not found"),
        (["validate", "resnet18", "--max-params", "lots"], "invalid --max-params 'lots'"),
        (["validate", "resnet18", "--max-params", "1M"], "budget of 1,000,000"),
        (["summary", "resnet18", "--max-activation-bytes", "1KiB"], "budget of 1.0 KiB"),
        (["validate", "resnet18", "--input", "1x3x100000x100000"], "of activations"),
        (["validate", "resnet18", "--input", "banana"], "invalid input size"),
        (["validate", "resnet18", "--set", "params.width=!!python/object/apply:os.system [id]"], "YAML tag"),
        (["validate", "resnet18", "--set", "params.width=${__import__('os')}"], "not allowed"),
        (["validate", "resnet18", "--set", "nodes=5"], "nodes"),
    ],
)
def test_command_rejects_hostile_options(capsys, argv, fragment):
    status = main(argv)
    captured = capsys.readouterr()

    _check_one_clear_error(status, captured.out, captured.err)
    assert fragment in captured.err


def test_validate_prints_resource_estimate(capsys):
    status = main(["validate", "resnet18", "--input", "1x3x224x224"])
    captured = capsys.readouterr()

    assert status == 0
    assert "estimate: 11,689,512 parameters, 31.4 MiB" in captured.out


def test_environment_budget_applies_to_cli(capsys, monkeypatch):
    monkeypatch.setenv("CVGRAPH_MAX_PARAMS", "1000")

    status = main(["summary", "resnet18"])
    captured = capsys.readouterr()

    _check_one_clear_error(status, captured.out, captured.err)
    assert "budget of 1,000" in captured.err


@pytest.mark.parametrize(
    "case, command",
    [("alias_bomb", "validate"), ("huge_channels", "summary"), ("python_tag", "graph"), ("expression_canary", "validate")],
)
def test_installed_command_rejects_hostile_spec(tmp_path, case, command):
    # The real process: the console script, its exit status and its stderr.
    path, canary = _write(tmp_path, case)
    script = Path(sys.executable).with_name("cvgraph")

    result = subprocess.run([str(script), command, str(path)], capture_output=True, text=True, timeout=120)

    _check_one_clear_error(result.returncode, result.stdout, result.stderr)
    assert str(path) in result.stderr
    assert not canary.exists()


def test_validate_scans_fewer_sizes_for_huge_graphs(tmp_path, capsys):
    path = tmp_path / "long.yaml"
    path.write_text("name: long\ninputs: {image: {channels: 3}}\nnodes: {r: {block: relu, repeat: 5000}}\n")

    status = main(["validate", str(path)])
    captured = capsys.readouterr()

    assert status == 0
    assert "input sizes (square, up to 400): any size from 1" in captured.out  # 2,000,000 // 5,000 nodes
