"""Fixtures of the plugin tests: the example plugin installed, a folder for fake distributions."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from plugin_helpers import PLUGIN_PATH

from cvgraph.registry import set_default_registry


def _source_version() -> str:
    # A regular expression, because tomllib is missing on Python 3.10.
    match = re.search(r'^version = "([^"]+)"', (PLUGIN_PATH / "pyproject.toml").read_text(), re.M)
    assert match is not None, "plugins/cvgraph-attention/pyproject.toml has no version line"
    return match.group(1)


@pytest.fixture(scope="session")
def attention_plugin() -> importlib.metadata.Distribution:
    """Return the installed cvgraph-attention distribution, installing it when missing or of another version."""
    try:
        installed = importlib.metadata.distribution("cvgraph-attention")
        if installed.version == _source_version():
            return installed
    except importlib.metadata.PackageNotFoundError:
        pass
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", str(PLUGIN_PATH)],
        check=True,
        timeout=300,
    )
    importlib.invalidate_caches()
    set_default_registry(None)
    return importlib.metadata.distribution("cvgraph-attention")


@pytest.fixture(autouse=True)
def fresh_default_registry() -> Iterator[None]:
    """Give each test a process-wide registry loaded from what is installed now."""
    previous = set_default_registry(None)
    yield
    set_default_registry(previous)


@pytest.fixture
def site_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return an empty folder on sys.path into which fake distributions are written."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    importlib.invalidate_caches()
    return folder
