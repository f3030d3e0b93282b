"""Helpers of the plugin tests: fake plugin distributions and the ``cvgraph`` script.

A fake distribution is written into a folder as a module plus a
``<name>-<version>.dist-info`` folder with ``METADATA`` and
``entry_points.txt``. ``importlib.metadata`` finds distributions on
``sys.path``, so prepending the folder (or putting it on ``PYTHONPATH`` for a
subprocess) installs it for real entry-point discovery.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLUGIN_PATH = REPO / "plugins" / "cvgraph-attention"
CVGRAPH_SCRIPT = Path(sys.executable).with_name("cvgraph")


@dataclass
class FakeDistribution:
    """A plugin distribution to write: its package source and entry points."""

    name: str
    module: str
    source: str
    entry_points: dict[str, str]
    version: str = "0.1.0"

    def write(self, folder: Path) -> None:
        (folder / f"{self.module}.py").write_text(textwrap.dedent(self.source))
        dist_info = folder / f"{self.name.replace('-', '_')}-{self.version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {self.name}\nVersion: {self.version}\n")
        lines = ["[cvgraph.plugins]", *(f"{key} = {value}" for key, value in self.entry_points.items())]
        (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def install_fake(folder: Path, *distributions: FakeDistribution) -> None:
    for distribution in distributions:
        distribution.write(folder)
    importlib.invalidate_caches()
    for distribution in distributions:
        sys.modules.pop(distribution.module, None)


def run_cli(*args: str, pythonpath: Path | None = None, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``cvgraph`` script in a subprocess and return its result."""
    environment = {k: v for k, v in os.environ.items() if k != "CVGRAPH_STRICT_PLUGINS"}
    if pythonpath is not None:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), environment.get("PYTHONPATH", "")]))
    environment.update(env or {})
    return subprocess.run(
        [str(CVGRAPH_SCRIPT), *args], capture_output=True, text=True, env=environment, cwd=cwd, timeout=120
    )
