"""The wheel: one top-level package, the zoo as package data, the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return next(folder.glob("cvgraph-*.whl"))


def test_wheel_has_only_cvgraph_at_top_level(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}

    assert top == {"cvgraph"}
    assert "cvgraph/blocks/conv.py" in names
    assert "cvgraph/specs/resnet50.yaml" in names
    assert "cvgraph/specs/_resnet_blocks.yaml" in names


def test_wheel_declares_console_script(wheel):
    archive = zipfile.ZipFile(wheel)
    entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))

    assert "cvgraph = cvgraph.cli:main" in archive.read(entry_points).decode()


def test_zoo_name_resolves_outside_the_checkout(tmp_path):
    code = "import cvgraph; print(cvgraph.load_spec('resnet34').name)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "resnet34"
