"""The registry of blocks, heads, losses and spec folders, filled through pluggy.

Names are namespaced by the plugin that registers them (``cvgraph:conv2d``,
``seblocks:se``). A short name (``conv2d``) resolves while exactly one plugin
registers it. Registering one full name twice is an error that names both
sources; nothing is ever overridden silently.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pluggy

from .block import Block, BlockArgs
from .errors import PluginError, SpecError
from .hookspecs import ENTRY_POINT_GROUP, PLUGIN_API_VERSION, PROJECT_NAME, CvgraphHooks
from .loss import Loss

__all__ = ["Registry", "Entry", "PluginInfo", "default_registry", "BUILTIN_NAMESPACE"]

logger = logging.getLogger(__name__)

BUILTIN_NAMESPACE = "cvgraph"


@dataclass(frozen=True)
class Entry:
    """One registered block or loss: its class and who registered it."""

    name: str
    namespace: str
    cls: type
    source: str
    """The plugin's distribution and version, such as ``cvgraph-se 0.1.0``."""

    @property
    def full_name(self) -> str:
        return f"{self.namespace}:{self.name}"


@dataclass
class PluginInfo:
    """What one plugin registered, for ``cvgraph plugins``."""

    name: str
    distribution: str
    version: str
    blocks: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    spec_dirs: list[str] = field(default_factory=list)
    error: str | None = None


class Registry:
    """Blocks, losses and spec folders by name.

    Args:
        strict: raise a :class:`PluginError` for a broken plugin instead of
            warning and skipping it.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.manager = pluggy.PluginManager(PROJECT_NAME)
        self.manager.add_hookspecs(CvgraphHooks)
        self._blocks: dict[str, Entry] = {}
        self._losses: dict[str, Entry] = {}
        self._spec_dirs: list[tuple[Path, str]] = []
        self.plugins: list[PluginInfo] = []

    # Registration ---------------------------------------------------------

    def register_plugin(
        self, plugin: Any, *, namespace: str, distribution: str = "", version: str = ""
    ) -> PluginInfo:
        """Register one plugin object and everything its hooks return.

        Raises:
            PluginError: when the plugin is invalid; nothing of it stays registered.
        """
        info = PluginInfo(namespace, distribution or namespace, version)
        source = f"{info.distribution} {info.version}".strip()
        owner = next((p for p in self.plugins if p.name == namespace), None)
        if owner is not None:
            raise PluginError(
                f"namespace '{namespace}' is registered twice: by '{owner.distribution} {owner.version}'".rstrip()
                + f" and by '{source}'",
                hint="uninstall one of the two plugins, or rename one entry point",
            )
        try:
            self.manager.register(plugin, name=namespace)
        except (ValueError, pluggy.PluginValidationError) as error:
            raise PluginError(f"plugin '{source}' could not be registered: {error}") from None

        try:
            staged = self._collect(plugin, namespace, source, info)
        except PluginError:
            self.manager.unregister(plugin)
            raise
        except Exception as error:  # noqa: BLE001 - a plugin's hook may raise anything
            self.manager.unregister(plugin)
            raise PluginError(
                f"plugin '{source}' failed in a hook: {type(error).__name__}: {error}",
                hint="fix or uninstall the plugin",
            ) from None

        blocks, losses, spec_dirs = staged
        for entry in blocks:
            self._blocks[entry.full_name] = entry
        for entry in losses:
            self._losses[entry.full_name] = entry
        self._spec_dirs.extend((path, source) for path in spec_dirs)
        self.plugins.append(info)
        return info

    def _call_one(self, plugin: Any, hook_name: str) -> list[Any]:
        impl = getattr(plugin, hook_name, None)
        if impl is None:
            return []
        result = impl()
        return list(result or [])

    def _collect(
        self, plugin: Any, namespace: str, source: str, info: PluginInfo
    ) -> tuple[list[Entry], list[Entry], list[Path]]:
        version_impl = getattr(plugin, "cvgraph_plugin_api_version", None)
        if version_impl is not None and version_impl() != PLUGIN_API_VERSION:
            raise PluginError(
                f"plugin '{source}' targets plugin API version {version_impl()}",
                expected=PLUGIN_API_VERSION,
                found=version_impl(),
                hint="install a version of the plugin built for this cvgraph",
            )

        blocks: list[Entry] = []
        for hook, is_head in (("cvgraph_blocks", False), ("cvgraph_heads", True)):
            for cls in self._call_one(plugin, hook):
                entry = self._check_block(cls, namespace, source, blocks)
                blocks.append(entry)
                (info.heads if is_head else info.blocks).append(entry.full_name)

        losses: list[Entry] = []
        for cls in self._call_one(plugin, "cvgraph_losses"):
            entry = self._check_loss(cls, namespace, source, losses)
            losses.append(entry)
            info.losses.append(entry.full_name)

        spec_dirs = [Path(p) for p in self._call_one(plugin, "cvgraph_spec_dirs")]
        for path in spec_dirs:
            if not path.is_dir():
                raise PluginError(f"plugin '{source}' names a spec folder that does not exist: {path}")
            info.spec_dirs.append(str(path))
        return blocks, losses, spec_dirs

    def _check_block(self, cls: Any, namespace: str, source: str, staged: list[Entry]) -> Entry:
        if not (isinstance(cls, type) and issubclass(cls, Block)):
            raise PluginError(f"plugin '{source}' registered {cls!r}, which is not a subclass of cvgraph.Block")
        if not cls.name or ":" in cls.name or "." in cls.name:
            raise PluginError(
                f"plugin '{source}' registered block class {cls.__name__} with an invalid name {cls.name!r}",
                hint="set 'name' to a non-empty identifier without ':' or '.'",
            )
        if not (isinstance(cls.Args, type) and issubclass(cls.Args, BlockArgs)):
            raise PluginError(
                f"plugin '{source}' block '{cls.name}': Args must subclass cvgraph.BlockArgs",
                found=repr(cls.Args),
            )
        for method in ("infer", "build"):
            if getattr(cls, method).__func__ is getattr(Block, method).__func__:
                raise PluginError(
                    f"plugin '{source}' block '{cls.name}' has no '{method}' method",
                    hint=f"implement the classmethod {cls.__name__}.{method}",
                )
        full_name = f"{namespace}:{cls.name}"
        self._check_duplicate(full_name, self._blocks, staged, source, "block")
        return Entry(cls.name, namespace, cls, source)

    def _check_loss(self, cls: Any, namespace: str, source: str, staged: list[Entry]) -> Entry:
        if not (isinstance(cls, type) and issubclass(cls, Loss)):
            raise PluginError(f"plugin '{source}' registered {cls!r}, which is not a subclass of cvgraph.Loss")
        if not cls.name or ":" in cls.name:
            raise PluginError(f"plugin '{source}' registered loss class {cls.__name__} with an invalid name {cls.name!r}")
        if cls.build.__func__ is Loss.build.__func__:
            raise PluginError(f"plugin '{source}' loss '{cls.name}' has no 'build' method")
        full_name = f"{namespace}:{cls.name}"
        self._check_duplicate(full_name, self._losses, staged, source, "loss")
        return Entry(cls.name, namespace, cls, source)

    @staticmethod
    def _check_duplicate(
        full_name: str, table: dict[str, Entry], staged: list[Entry], source: str, kind: str
    ) -> None:
        previous = table.get(full_name) or next((e for e in staged if e.full_name == full_name), None)
        if previous is not None:
            raise PluginError(
                f"{kind} '{full_name}' is registered twice: by '{previous.source}' and by '{source}'",
                hint="uninstall one of the two plugins, or give one of the names another namespace",
            )

    def load_entry_points(self) -> None:
        """Load every plugin installed under the ``cvgraph.plugins`` entry-point group.

        A plugin that fails is reported with its distribution name and skipped
        (a warning), or raised in strict mode; the others keep working.
        """
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = entry_point.dist
            distribution = dist.metadata["Name"] if dist is not None else entry_point.value
            version = dist.version if dist is not None else ""
            try:
                plugin = entry_point.load()
                self.register_plugin(
                    plugin, namespace=entry_point.name, distribution=distribution, version=version
                )
                logger.info("loaded plugin %s from %s %s", entry_point.name, distribution, version)
            except Exception as error:  # noqa: BLE001 - any failure of foreign code is reported
                if isinstance(error, PluginError):
                    message = error.message
                else:
                    message = (
                        f"plugin '{entry_point.name}' from '{distribution} {version}' failed to load: "
                        f"{type(error).__name__}: {error}"
                    )
                self.plugins.append(PluginInfo(entry_point.name, distribution, version, error=message))
                if self.strict:
                    raise PluginError(message, hint="fix or uninstall the plugin") from None
                warnings.warn(f"{message}; the plugin is skipped", stacklevel=2)

    # Lookup -------------------------------------------------------------

    def _resolve(self, name: str, table: dict[str, Entry], kind: str) -> Entry:
        if ":" in name:
            entry = table.get(name)
            if entry is not None:
                return entry
        else:
            matches = [e for e in table.values() if e.name == name]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                choices = ", ".join(sorted(e.full_name for e in matches))
                raise SpecError(
                    f"{kind} name '{name}' is ambiguous",
                    found=choices,
                    hint=f"write the namespaced name, one of: {choices}",
                )
        known = sorted({e.name for e in table.values()} | set(table))
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else f"run 'cvgraph blocks' to list the {kind}s"
        raise SpecError(f"unknown {kind} '{name}'", hint=hint)

    def block(self, name: str) -> type[Block]:
        """Return the block class registered under ``name`` (short or namespaced)."""
        return self._resolve(name, self._blocks, "block").cls

    def block_entry(self, name: str) -> Entry:
        return self._resolve(name, self._blocks, "block")

    def loss(self, name: str) -> type[Loss]:
        """Return the loss class registered under ``name`` (short or namespaced)."""
        return self._resolve(name, self._losses, "loss").cls

    def blocks(self) -> list[Entry]:
        return sorted(self._blocks.values(), key=lambda e: e.full_name)

    def losses(self) -> list[Entry]:
        return sorted(self._losses.values(), key=lambda e: e.full_name)

    def spec_dirs(self) -> list[tuple[Path, str]]:
        return list(self._spec_dirs)


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    """Return the process-wide registry: the built-ins plus every installed plugin.

    It is created on first use, so importing cvgraph loads no plugin.
    """
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = new_registry()
    return _DEFAULT


def new_registry(*, strict: bool = False, plugins: Iterable[tuple[str, Any]] = (), entry_points: bool = True) -> Registry:
    """Create a registry with the built-ins, then the installed plugins and ``plugins``.

    Args:
        strict: raise on a broken plugin instead of warning.
        plugins: extra ``(namespace, plugin object)`` pairs, for tests and embedding.
        entry_points: whether to load the installed plugins.
    """
    from . import blocks as builtin_blocks

    registry = Registry(strict=strict)
    registry.register_plugin(
        builtin_blocks, namespace=BUILTIN_NAMESPACE, distribution="cvgraph", version=_version()
    )
    if entry_points:
        registry.load_entry_points()
    for namespace, plugin in plugins:
        registry.register_plugin(plugin, namespace=namespace)
    return registry


def _version() -> str:
    try:
        return importlib.metadata.version("cvgraph")
    except importlib.metadata.PackageNotFoundError:
        return "0+source"
