"""The registry of blocks, heads, losses, spec folders and CLI commands, filled through pluggy.

Names are namespaced by the plugin that registers them (``cvgraph:conv2d``,
``attention:se``); the namespace of an installed plugin is its entry-point
name. A short name (``se``) resolves while exactly one plugin registers it.
A built-in keeps its short name, though: a plugin block called ``relu`` is
reachable only as ``namespace:relu``, with a warning at load. So installing
a plugin never changes what an existing spec means.

Nothing is ever overridden silently. A namespace used twice, a name
registered twice by one plugin, a plugin that fails to import, or a class
that breaks the block contract is a :class:`PluginError` that names the
plugin's distribution. :meth:`Registry.load_entry_points` reports it as a
:class:`PluginWarning` and skips that plugin, or raises it in strict mode
(``new_registry(strict=True)``, ``CVGRAPH_STRICT_PLUGINS=1`` or
``cvgraph --strict-plugins``).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pluggy

from ._plugin_checks import NAMESPACE_PATTERN, PluginSource, check_block, check_command, check_loss
from .block import Block
from .errors import PluginError, SpecError
from .hookspecs import ENTRY_POINT_GROUP, PLUGIN_API_VERSION, PROJECT_NAME, CvgraphHooks
from .loss import Loss

__all__ = [
    "Registry",
    "Entry",
    "SpecFolder",
    "PluginInfo",
    "PluginWarning",
    "default_registry",
    "new_registry",
    "set_default_registry",
    "strict_from_environment",
    "BUILTIN_NAMESPACE",
    "STRICT_ENV_VAR",
]

logger = logging.getLogger(__name__)

BUILTIN_NAMESPACE = "cvgraph"
STRICT_ENV_VAR = "CVGRAPH_STRICT_PLUGINS"

_HOOK_NAMES = tuple(name for name in vars(CvgraphHooks) if name.startswith("cvgraph_"))
_PLURALS = {"block": "blocks", "head": "heads", "loss": "losses", "spec": "specs"}


class PluginWarning(UserWarning):
    """A plugin that was skipped, or a name of it that was not registered, in non-strict mode."""


@dataclass(frozen=True)
class Entry:
    """One registered block, head, loss or CLI command, and the plugin that registered it.

    Attributes:
        name: the short name, such as ``se``.
        namespace: the plugin's namespace, such as ``attention``.
        cls: the block or loss class (for a command: the command object).
        source: the plugin's distribution and version, such as ``cvgraph-attention 0.1.0``.
        kind: ``block``, ``head``, ``loss`` or ``command``.
        distribution: the plugin's distribution name alone, such as ``cvgraph-attention``.
    """

    name: str
    namespace: str
    cls: Any
    source: str
    kind: str = "block"
    distribution: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.namespace}:{self.name}"


@dataclass(frozen=True)
class SpecFolder:
    """A folder of zoo specs and the plugin that added it."""

    path: Path
    namespace: str
    source: str


@dataclass
class PluginInfo:
    """The names one plugin registered, or the reason it was skipped, for ``cvgraph plugins``.

    Attributes:
        name: the namespace (the entry-point name).
        distribution: the distribution that installed it.
        version: the distribution's version.
        error: why the plugin was skipped; None when it loaded.
        warnings: names of the plugin that were registered only under their full name.
    """

    name: str
    distribution: str
    version: str
    blocks: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    spec_dirs: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "blocks": list(self.blocks),
            "heads": list(self.heads),
            "losses": list(self.losses),
            "spec_dirs": list(self.spec_dirs),
            "commands": list(self.commands),
            "error": self.error,
            "warnings": list(self.warnings),
        }


@dataclass
class _Staged:
    """The checked results of one plugin's hooks, before any of them enters the registry."""

    entries: list[Entry] = field(default_factory=list)
    spec_folders: list[SpecFolder] = field(default_factory=list)
    shadowed: list[tuple[str, str]] = field(default_factory=list)
    """(kind, short name) of each name whose short form stays with a built-in."""


class Registry:
    """Blocks, heads, losses, spec folders and CLI commands by name.

    Args:
        strict: raise a :class:`PluginError` for a broken plugin instead of
            warning and skipping it.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.manager = pluggy.PluginManager(PROJECT_NAME)
        self.manager.add_hookspecs(CvgraphHooks)
        self._tables: dict[str, dict[str, Entry]] = {"block": {}, "loss": {}, "command": {}}
        self._spec_folders: list[SpecFolder] = []
        self._namespaces: dict[str, str] = {}
        self.plugins: list[PluginInfo] = []

    # Registration ---------------------------------------------------------

    def register_plugin(
        self, plugin: Any, *, namespace: str, distribution: str = "", version: str = ""
    ) -> PluginInfo:
        """Register one plugin object and everything its hooks return, all or nothing.

        Args:
            plugin: a module or object with ``@cvgraph.hookimpl`` functions.
            namespace: the prefix of its names (an installed plugin's entry-point name).
            distribution: the distribution that ships it, for messages.
            version: the distribution's version, for messages.

        Raises:
            PluginError: when the plugin is invalid; nothing of it stays registered.
                In strict mode, also when a short name stays with a built-in.
        """
        source = PluginSource(namespace, distribution or namespace, version)
        self._check_namespace(source)
        try:
            self.manager.register(plugin, name=namespace)
        except (ValueError, pluggy.PluginValidationError) as error:
            raise PluginError(
                f"plugin '{source}' could not be registered: {error}", distribution=source.distribution
            ) from None

        try:
            staged = self._collect(plugin, source)
            if staged.shadowed and self.strict:
                raise PluginError(_shadow_message(source, staged.shadowed), distribution=source.distribution)
        except PluginError:
            self.manager.unregister(plugin)
            raise
        except Exception as error:  # noqa: BLE001 - a plugin's hook may raise anything
            self.manager.unregister(plugin)
            raise PluginError(
                f"plugin '{source}' failed in a hook: {type(error).__name__}: {error}",
                hint=f"fix the plugin, or uninstall it: pip uninstall {source.distribution}",
                distribution=source.distribution,
            ) from None

        return self._commit(staged, source)

    def _check_namespace(self, source: PluginSource) -> None:
        if not NAMESPACE_PATTERN.match(source.namespace):
            raise PluginError(
                f"plugin '{source}' has an invalid namespace {source.namespace!r}",
                expected="letters, digits, '_' and '-' (the entry-point name)",
                distribution=source.distribution,
            )
        owner = self._namespaces.get(source.namespace)
        if owner is not None:
            raise PluginError(
                f"plugin namespace '{source.namespace}' is registered twice: by '{owner}' and by '{source}'",
                hint=f"uninstall one of the two distributions, or rename the entry point of '{source.distribution}'",
                distribution=source.distribution,
            )

    def _commit(self, staged: _Staged, source: PluginSource) -> PluginInfo:
        info = PluginInfo(source.namespace, source.distribution, source.version)
        lists = {"block": info.blocks, "head": info.heads, "loss": info.losses, "command": info.commands}
        for entry in staged.entries:
            self._tables[_table_of(entry.kind)][entry.full_name] = entry
            lists[entry.kind].append(entry.full_name)
        self._spec_folders.extend(staged.spec_folders)
        info.spec_dirs = [str(folder.path) for folder in staged.spec_folders]
        self._namespaces[source.namespace] = str(source)
        if staged.shadowed:
            info.warnings.append(_shadow_message(source, staged.shadowed))
            warnings.warn(info.warnings[-1], PluginWarning, stacklevel=2)
        self.plugins.append(info)
        logger.info("registered plugin '%s' from %s", source.namespace, source)
        return info

    def _hook_functions(self, plugin: Any, source: PluginSource) -> dict[str, Callable[[], Any]]:
        """Return the plugin's hook implementations by hook name, checking their names and markers."""
        functions: dict[str, Callable[[], Any]] = {}
        for caller in self.manager.get_hookcallers(plugin) or []:
            if caller.name not in _HOOK_NAMES:
                close = difflib.get_close_matches(caller.name, _HOOK_NAMES, n=1)
                raise PluginError(
                    f"plugin '{source}' implements an unknown hook '{caller.name}'",
                    expected=f"one of: {', '.join(_HOOK_NAMES)}",
                    hint=f"did you mean '{close[0]}'?" if close else None,
                    distribution=source.distribution,
                )
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    functions[caller.name] = impl.function
        for name in _HOOK_NAMES:
            if name not in functions and callable(getattr(plugin, name, None)):
                raise PluginError(
                    f"plugin '{source}' defines '{name}' without the @cvgraph.hookimpl marker",
                    hint=f"decorate it: '@cvgraph.hookimpl' above 'def {name}()'",
                    distribution=source.distribution,
                )
        return functions

    def _collect(self, plugin: Any, source: PluginSource) -> _Staged:
        functions = self._hook_functions(plugin, source)
        _check_api_version(functions.get("cvgraph_plugin_api_version"), source)

        def returned(hook: str) -> list[Any]:
            function = functions.get(hook)
            if function is None:
                return []
            result = function()
            if not isinstance(result, (list, tuple)):
                raise PluginError(
                    f"plugin '{source}' hook {hook} must return a list, but returned {type(result).__name__}",
                    distribution=source.distribution,
                )
            return list(result)

        staged = _Staged()
        for hook, head in (("cvgraph_blocks", False), ("cvgraph_heads", True)):
            for cls in returned(hook):
                check_block(cls, head=head, source=source)
                self._stage(staged, _entry(cls.name, cls, "head" if cls.head else "block", source), source)
        for cls in returned("cvgraph_losses"):
            check_loss(cls, source=source)
            self._stage(staged, _entry(cls.name, cls, "loss", source), source)
        for command in returned("cvgraph_cli_commands"):
            check_command(command, source=source)
            self._stage(staged, _entry(command.name, command, "command", source), source)
        for path in returned("cvgraph_spec_dirs"):
            staged.spec_folders.append(self._check_spec_folder(path, source, staged))
        return staged

    def _stage(self, staged: _Staged, entry: Entry, source: PluginSource) -> None:
        """Add ``entry`` to ``staged``: a name used twice is an error, a built-in's short name a warning."""
        table = self._tables[_table_of(entry.kind)]
        previous = table.get(entry.full_name) or next(
            (e for e in staged.entries if _table_of(e.kind) == _table_of(entry.kind) and e.full_name == entry.full_name),
            None,
        )
        if previous is not None:
            raise PluginError(
                f"{entry.kind} '{entry.full_name}' is registered twice: by '{previous.source}' and by '{entry.source}'",
                hint="give one of the two classes another name",
                distribution=source.distribution,
            )
        if entry.namespace != BUILTIN_NAMESPACE and f"{BUILTIN_NAMESPACE}:{entry.name}" in table:
            staged.shadowed.append((entry.kind, entry.name))
        staged.entries.append(entry)

    def _check_spec_folder(self, path: Any, source: PluginSource, staged: _Staged) -> SpecFolder:
        if not isinstance(path, (str, os.PathLike)) or not Path(path).is_dir():
            raise PluginError(
                f"plugin '{source}' names a spec folder that does not exist: {path}",
                hint="return the folder of the spec files, such as Path(__file__).parent / 'specs'",
                distribution=source.distribution,
            )
        folder = SpecFolder(Path(path), source.namespace, str(source))
        if source.namespace != BUILTIN_NAMESPACE:
            from .zoo import spec_names_in

            builtin = {name for f in self._spec_folders if f.namespace == BUILTIN_NAMESPACE for name in spec_names_in(f.path)}
            staged.shadowed.extend(("spec", name) for name in sorted(spec_names_in(folder.path) & builtin))
        return folder

    def load_entry_points(self) -> None:
        """Load every plugin installed under the ``cvgraph.plugins`` entry-point group.

        A plugin that fails is recorded in :attr:`plugins` with its
        distribution name. It is skipped with a :class:`PluginWarning`, or
        raised in strict mode, and the other plugins keep working.

        Raises:
            PluginError: in strict mode, for the first plugin that fails.
        """
        found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for entry_point in sorted(found, key=lambda e: (e.name, e.value)):
            dist = entry_point.dist
            distribution = dist.metadata["Name"] if dist is not None else entry_point.value
            version = dist.version if dist is not None else ""
            self._guarded(entry_point.load, namespace=entry_point.name, distribution=distribution, version=version)

    def add_plugin(self, plugin: Any, *, namespace: str, distribution: str = "", version: str = "") -> None:
        """Register ``plugin`` like an installed one: warn and skip it when it is broken, or raise in strict mode."""
        self._guarded(lambda: plugin, namespace=namespace, distribution=distribution or namespace, version=version)

    def _guarded(self, load: Callable[[], Any], *, namespace: str, distribution: str, version: str) -> None:
        source = PluginSource(namespace, distribution, version)
        try:
            plugin = load()
        except Exception as error:  # noqa: BLE001 - importing foreign code may raise anything
            self._skip(
                source,
                PluginError(
                    f"plugin '{namespace}' from '{source}' failed to import: {type(error).__name__}: {error}",
                    hint=f"fix the plugin, or uninstall it: pip uninstall {distribution}",
                    distribution=distribution,
                ),
            )
            return
        try:
            self.register_plugin(plugin, namespace=namespace, distribution=distribution, version=version)
        except PluginError as error:
            self._skip(source, error)

    def _skip(self, source: PluginSource, error: PluginError) -> None:
        self.plugins.append(PluginInfo(source.namespace, source.distribution, source.version, error=error.message))
        if self.strict:
            raise error
        logger.debug("skipped plugin '%s': %s", source.namespace, error)
        warnings.warn(f"{error}\n  the plugin is skipped", PluginWarning, stacklevel=2)

    # Lookup -------------------------------------------------------------

    def _resolve(self, name: str, kind: str) -> Entry:
        table = self._tables[_table_of(kind)]
        if ":" in name:
            entry = table.get(name)
            if entry is not None:
                return entry
        else:
            builtin = table.get(f"{BUILTIN_NAMESPACE}:{name}")
            if builtin is not None:
                return builtin
            matches = [e for e in table.values() if e.name == name]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                choices = ", ".join(sorted(e.full_name for e in matches))
                raise SpecError(
                    f"{kind} name '{name}' is ambiguous: {len(matches)} plugins register it",
                    found=choices,
                    hint=f"write the namespaced name, one of: {choices}",
                )
        known = sorted({e.name for e in table.values()} | set(table))
        close = difflib.get_close_matches(name, known, n=3)
        listing = "cvgraph blocks" if kind != "command" else "cvgraph --help"
        hint = (
            f"did you mean {' or '.join(repr(c) for c in close)}?"
            if close
            else f"run '{listing}' to list the registered {_PLURALS.get(kind, kind + 's')}"
        )
        raise SpecError(f"unknown {kind} '{name}'", found=name, hint=hint)

    def block(self, name: str) -> type[Block]:
        """Return the block (or head) class registered under ``name``, short or namespaced.

        Raises:
            SpecError: for an unknown or ambiguous name, listing near matches or the choices.
        """
        return self._resolve(name, "block").cls

    def block_entry(self, name: str) -> Entry:
        """Return the :class:`Entry` of the block registered under ``name``."""
        return self._resolve(name, "block")

    def loss(self, name: str) -> type[Loss]:
        """Return the loss class registered under ``name``, short or namespaced.

        Raises:
            SpecError: for an unknown or ambiguous name.
        """
        return self._resolve(name, "loss").cls

    def loss_entry(self, name: str) -> Entry:
        """Return the :class:`Entry` of the loss registered under ``name``."""
        return self._resolve(name, "loss")

    def blocks(self) -> list[Entry]:
        """Return every block and head, sorted by full name."""
        return sorted(self._tables["block"].values(), key=lambda e: e.full_name)

    def heads(self) -> list[Entry]:
        """Return the heads: blocks that produce task outputs."""
        return [e for e in self.blocks() if e.kind == "head"]

    def losses(self) -> list[Entry]:
        return sorted(self._tables["loss"].values(), key=lambda e: e.full_name)

    def commands(self) -> list[Entry]:
        """Return the CLI commands that plugins add (the core commands are not registered here)."""
        return sorted(self._tables["command"].values(), key=lambda e: e.full_name)

    def spec_folders(self) -> list[SpecFolder]:
        return list(self._spec_folders)

    def spec_dirs(self) -> list[tuple[Path, str]]:
        """Return each spec folder with the source that added it, built-in folders first."""
        return [(folder.path, folder.source) for folder in self._spec_folders]


def _entry(name: str, registered: Any, kind: str, source: PluginSource) -> Entry:
    return Entry(name, source.namespace, registered, str(source), kind, source.distribution)


def _table_of(kind: str) -> str:
    return "block" if kind == "head" else kind


def _check_api_version(function: Callable[[], Any] | None, source: PluginSource) -> None:
    if function is None:
        raise PluginError(
            f"plugin '{source}' does not declare the plugin API version it was written for",
            expected=f"a hook cvgraph_plugin_api_version returning {PLUGIN_API_VERSION}",
            hint=f"add '@cvgraph.hookimpl def cvgraph_plugin_api_version(): return {PLUGIN_API_VERSION}'",
            distribution=source.distribution,
        )
    declared = function()
    if isinstance(declared, bool) or declared != PLUGIN_API_VERSION:
        raise PluginError(
            f"plugin '{source}' was written for plugin API version {declared!r}, "
            f"but this cvgraph provides version {PLUGIN_API_VERSION}",
            expected=PLUGIN_API_VERSION,
            found=repr(declared),
            hint=f"install a release of '{source.distribution}' made for this cvgraph, or a matching cvgraph",
            distribution=source.distribution,
        )


def _shadow_message(source: PluginSource, shadowed: list[tuple[str, str]]) -> str:
    names = ", ".join(f"{kind} '{name}'" for kind, name in shadowed)
    full_names = ", ".join(f"'{source.namespace}:{name}'" for _kind, name in shadowed)
    return (
        f"plugin '{source}': cvgraph's built-ins already use the short name of its {names}, "
        f"so the plugin's is reachable only as {full_names}"
    )


_DEFAULT: Registry | None = None


def strict_from_environment() -> bool:
    """Return True when ``CVGRAPH_STRICT_PLUGINS`` is set to ``1``, ``true`` or ``yes``."""
    return os.environ.get(STRICT_ENV_VAR, "").strip().lower() in ("1", "true", "yes")


def default_registry() -> Registry:
    """Return the process-wide registry: the built-ins plus every installed plugin.

    It is created on first use, so importing cvgraph loads no plugin. It is
    strict when ``CVGRAPH_STRICT_PLUGINS=1`` at that moment.

    Raises:
        PluginError: in strict mode, when an installed plugin is broken.
    """
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = new_registry(strict=strict_from_environment())
    return _DEFAULT


def set_default_registry(registry: Registry | None) -> Registry | None:
    """Replace the process-wide registry and return the previous one.

    ``None`` makes the next :func:`default_registry` call load the plugins
    again, for example after installing one in a running process.
    """
    global _DEFAULT
    previous, _DEFAULT = _DEFAULT, registry
    return previous


def new_registry(
    *, strict: bool = False, plugins: Iterable[tuple[str, Any]] = (), entry_points: bool = True
) -> Registry:
    """Create a registry with the built-ins, then the installed plugins and ``plugins``.

    Args:
        strict: raise on a broken plugin instead of warning and skipping it.
        plugins: extra ``(namespace, plugin object)`` pairs, for tests and
            embedding; they are checked and reported like installed plugins.
        entry_points: whether to load the installed plugins.

    Raises:
        PluginError: in strict mode, for the first broken plugin.
    """
    from . import blocks as builtin_blocks

    registry = Registry(strict=strict)
    registry.register_plugin(
        builtin_blocks, namespace=BUILTIN_NAMESPACE, distribution="cvgraph", version=_version()
    )
    if entry_points:
        registry.load_entry_points()
    for namespace, plugin in plugins:
        registry.add_plugin(plugin, namespace=namespace)
    return registry


def _version() -> str:
    try:
        return importlib.metadata.version("cvgraph")
    except importlib.metadata.PackageNotFoundError:
        return "0+source"
