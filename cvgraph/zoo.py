"""Spec names: the built-in zoo and the spec folders that plugins add."""

from __future__ import annotations

import difflib
from pathlib import Path

from .errors import SpecError
from .registry import Registry

__all__ = ["zoo_names", "find_spec"]

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def _spec_files(registry: Registry, *, libraries: bool = False) -> dict[str, Path]:
    """Map spec names to files; ``_``-prefixed include libraries only when asked."""
    files: dict[str, Path] = {}
    for folder, _source in registry.spec_dirs():
        for path in sorted(folder.iterdir()):
            if path.suffix in SPEC_SUFFIXES and (libraries or not path.name.startswith("_")):
                files.setdefault(path.stem, path)
    return files


def zoo_names(registry: Registry) -> list[str]:
    """Return the names of every model spec in the zoo and in plugin spec folders."""
    return sorted(_spec_files(registry))


def find_spec(name: str, registry: Registry) -> Path:
    """Return the file of the zoo spec called ``name``.

    Raises:
        SpecError: naming near matches when no spec has that name.
    """
    files = _spec_files(registry, libraries=True)
    if name in files:
        return files[name]
    close = difflib.get_close_matches(name, list(files), n=3)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "run 'cvgraph zoo' to list the specs"
    raise SpecError(f"no spec file and no zoo spec named '{name}'", found=name, hint=hint)
