"""Spec names: the built-in zoo and the spec folders that plugins add.

A zoo spec is named like a block: ``namespace:name`` (``attention:se_resnet50``)
or by its short name while one folder alone has it. The built-in zoo keeps
its short names: a plugin spec called ``resnet50`` is ``namespace:resnet50``.
Files starting with ``_`` are include-only libraries: not listed, but an
``include`` may name them (``include: [_resnet_blocks]``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from .errors import SpecError
from .registry import BUILTIN_NAMESPACE, Registry

__all__ = ["ZooSpec", "zoo_specs", "zoo_names", "find_spec", "spec_names_in", "SPEC_SUFFIXES"]

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ZooSpec:
    """One spec file of a spec folder, and the plugin that added the folder."""

    name: str
    namespace: str
    path: Path
    source: str

    @property
    def full_name(self) -> str:
        return f"{self.namespace}:{self.name}"


def _files_in(folder: Path, libraries: bool) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in SPEC_SUFFIXES and (libraries or not path.name.startswith("_")):
            # NOTE: of 'a.yaml' and 'a.json' in one folder, the first in sorted order is used.
            files.setdefault(path.stem, path)
    return files


def spec_names_in(folder: Path) -> set[str]:
    """Return the names of the specs in ``folder``, include-only libraries excluded."""
    return set(_files_in(folder, libraries=False))


def zoo_specs(registry: Registry, *, libraries: bool = False) -> list[ZooSpec]:
    """Return every spec of every registered spec folder, built-in folders first."""
    specs: dict[str, ZooSpec] = {}
    for folder in registry.spec_folders():
        for name, path in _files_in(folder.path, libraries).items():
            spec = ZooSpec(name, folder.namespace, path, folder.source)
            specs.setdefault(spec.full_name, spec)
    return list(specs.values())


def _display_name(spec: ZooSpec, specs: list[ZooSpec]) -> str:
    """Return the short name where it resolves to ``spec``, the full name otherwise."""
    same = [s for s in specs if s.name == spec.name]
    owner = next((s for s in same if s.namespace == BUILTIN_NAMESPACE), None)
    if (owner is None and len(same) == 1) or owner is spec:
        return spec.name
    return spec.full_name


def zoo_names(registry: Registry) -> list[str]:
    """Return the names that :func:`find_spec` accepts for every zoo and plugin spec.

    A spec is listed by its short name where that is unambiguous, by
    ``namespace:name`` otherwise.
    """
    specs = zoo_specs(registry)
    return sorted(_display_name(spec, specs) for spec in specs)


def find_spec(name: str, registry: Registry, *, libraries: bool = False) -> Path:
    """Return the file of the zoo spec called ``name`` (short or ``namespace:name``).

    Args:
        name: such as ``resnet50`` or ``attention:se_resnet50``.
        registry: the registry whose spec folders are searched.
        libraries: also find include-only files (``_resnet_blocks``).

    Raises:
        SpecError: naming near matches when no spec has that name, or the
            choices when several plugins have it.
    """
    specs = zoo_specs(registry, libraries=libraries)
    if ":" in name:
        match = next((s for s in specs if s.full_name == name), None)
        if match is not None:
            return match.path
    else:
        same = [s for s in specs if s.name == name]
        builtin = next((s for s in same if s.namespace == BUILTIN_NAMESPACE), None)
        if builtin is not None:
            return builtin.path
        if len(same) == 1:
            return same[0].path
        if len(same) > 1:
            choices = ", ".join(sorted(s.full_name for s in same))
            raise SpecError(
                f"zoo spec name '{name}' is ambiguous: {len(same)} plugins ship it",
                found=choices,
                hint=f"write the namespaced name, one of: {choices}",
            )
    known = sorted({s.name for s in specs} | {s.full_name for s in specs})
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "run 'cvgraph zoo' to list the specs"
    raise SpecError(f"no spec file and no zoo spec named '{name}'", found=name, hint=hint)
