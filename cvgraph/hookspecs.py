"""The pluggy hook specifications that plugins implement.

A plugin is a module (or object) with functions marked ``@hookimpl``, found
through the ``cvgraph.plugins`` entry-point group. The built-in blocks are
registered through these same hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pluggy

__all__ = ["hookspec", "hookimpl", "PROJECT_NAME", "ENTRY_POINT_GROUP", "PLUGIN_API_VERSION", "CvgraphHooks"]

PROJECT_NAME = "cvgraph"
ENTRY_POINT_GROUP = "cvgraph.plugins"
PLUGIN_API_VERSION = 1
"""Bumped when a hook changes incompatibly; a plugin declares the version it targets."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class CvgraphHooks:
    """Hooks a plugin may implement. Each returns a list; none is required."""

    @hookspec
    def cvgraph_plugin_api_version(self) -> int:  # type: ignore[empty-body]
        """Return the plugin API version the plugin was written for."""

    @hookspec
    def cvgraph_blocks(self) -> list[type]:  # type: ignore[empty-body]
        """Return block classes (subclasses of ``cvgraph.Block``) to register."""

    @hookspec
    def cvgraph_heads(self) -> list[type]:  # type: ignore[empty-body]
        """Return head classes: blocks that produce task outputs."""

    @hookspec
    def cvgraph_losses(self) -> list[type]:  # type: ignore[empty-body]
        """Return loss classes (subclasses of ``cvgraph.Loss``) to register."""

    @hookspec
    def cvgraph_spec_dirs(self) -> list[Path]:  # type: ignore[empty-body]
        """Return folders of ``*.yaml`` specs that zoo names resolve to."""

    @hookspec
    def cvgraph_cli_commands(self) -> list[Any]:  # type: ignore[empty-body]
        """Return CLI commands: objects with ``name``, ``help``, ``add_arguments(parser)`` and ``run(args)``."""
