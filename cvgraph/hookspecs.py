"""The pluggy hook specifications that plugins implement.

A plugin is a module (or object) with functions marked ``@hookimpl``, found
through the ``cvgraph.plugins`` entry-point group; the entry-point name is the
plugin's namespace. The built-in blocks are registered through these same
hooks. docs/plugins.md describes the whole plugin API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pluggy

__all__ = ["hookspec", "hookimpl", "PROJECT_NAME", "ENTRY_POINT_GROUP", "PLUGIN_API_VERSION", "CvgraphHooks"]

PROJECT_NAME = "cvgraph"
ENTRY_POINT_GROUP = "cvgraph.plugins"
PLUGIN_API_VERSION = 1
"""Bumped when a hook or the block contract changes incompatibly.

Every plugin must return the version it was written for from
``cvgraph_plugin_api_version``; the registry rejects a plugin without it or
with another version.
"""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class CvgraphHooks:
    """Hooks a plugin implements. Only ``cvgraph_plugin_api_version`` is required; the others return lists."""

    @hookspec
    def cvgraph_plugin_api_version(self) -> int:  # type: ignore[empty-body]
        """Return the plugin API version the plugin was written for, as a literal int (required)."""

    @hookspec
    def cvgraph_blocks(self) -> list[type]:  # type: ignore[empty-body]
        """Return block classes (subclasses of ``cvgraph.Block``) to register."""

    @hookspec
    def cvgraph_heads(self) -> list[type]:  # type: ignore[empty-body]
        """Return head classes: blocks with ``head = True`` that produce task outputs."""

    @hookspec
    def cvgraph_losses(self) -> list[type]:  # type: ignore[empty-body]
        """Return loss classes (subclasses of ``cvgraph.Loss``) to register."""

    @hookspec
    def cvgraph_spec_dirs(self) -> list[Path]:  # type: ignore[empty-body]
        """Return folders of spec files (``.yaml``, ``.yml``, ``.json``) that zoo names resolve to."""

    @hookspec
    def cvgraph_cli_commands(self) -> list[Any]:  # type: ignore[empty-body]
        """Return CLI commands, such as ``cvgraph.cli.Command(name, help, add_arguments, run)``."""
