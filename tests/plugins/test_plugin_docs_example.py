"""The minimal plugin of docs/plugins.md, installed as a real distribution and used from a spec."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from plugin_helpers import REPO, FakeDistribution, install_fake

import cvgraph
from cvgraph.cli import main

DOC = (REPO / "docs" / "plugins.md").read_text()


def _block_after(marker: str, language: str) -> str:
    """Return the first fenced code block of ``language`` after ``marker`` in the plugin doc."""
    start = DOC.index(marker)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(DOC, start)
    assert match is not None, marker
    return match.group(1)


@pytest.fixture
def shuffle_plugin(site_folder: Path) -> Path:
    entry_point = re.search(r'^(\w+) = "(\w+)"$', _block_after("`pyproject.toml`:", "toml"), re.M)
    assert entry_point is not None
    distribution = FakeDistribution(
        name="cvgraph-shuffle",
        module=entry_point.group(2),
        source=_block_after("`cvgraph_shuffle.py`:", "python"),
        entry_points={entry_point.group(1): entry_point.group(2)},
    )
    install_fake(site_folder, distribution)
    spec = site_folder / "shuffled.yaml"
    spec.write_text(_block_after("a spec uses it like a built-in", "yaml"))
    return spec


def test_doc_example_validates_as_shown(shuffle_plugin, capsys):
    console = _block_after("a spec uses it like a built-in", "console")
    expected = console.split("\n", 1)[1]

    assert main(["validate", str(shuffle_plugin), "--input", "1x3x32x32"]) == 0

    assert capsys.readouterr().out == expected


def test_doc_example_registers_under_namespace(shuffle_plugin):
    registry = cvgraph.new_registry(strict=True)

    entry = registry.block_entry("channel_shuffle")
    assert entry.full_name == "shuffle:channel_shuffle"
    assert entry.source == "cvgraph-shuffle 0.1.0"


def test_doc_example_errors(shuffle_plugin):
    text = shuffle_plugin.read_text()

    cases = {
        "groups: 3": (cvgraph.ShapeError, "groups=3 does not divide the 8 input channels"),
        "groups: 0": (cvgraph.SpecError, "args of block 'channel_shuffle': invalid 'groups'"),
        "group: 2": (cvgraph.SpecError, "args of block 'channel_shuffle': unknown key 'group'"),
    }
    for replacement, (error_type, message) in cases.items():
        shuffle_plugin.write_text(text.replace("groups: 2", replacement))
        with pytest.raises(error_type) as caught:
            cvgraph.infer_shapes(str(shuffle_plugin), {"image": "1x3x32x32"})
        assert message in str(caught.value)
        assert caught.value.node == "shuffle"
        assert caught.value.line == 5
