"""The one exception family of cvgraph.

Every stage (load, expand, validate, graph, infer, build, weights) reports a
problem with the user's input as a :class:`SpecError`. It carries structured
fields so that tools and tests can read where the problem is without parsing
the message.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Location", "SpecError", "ShapeError", "WeightsError", "PluginError", "ResourceError"]


@dataclass(frozen=True)
class Location:
    """A position in a spec file: the file name and the 1-based line."""

    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file is None:
            return "<spec>" if self.line is None else f"<spec>:{self.line}"
        return self.file if self.line is None else f"{self.file}:{self.line}"


class SpecError(ValueError):
    """A problem with a spec, located by file, line and node path.

    Attributes:
        message: what failed, in one sentence.
        file: the spec file, or None for a spec given as a Python dict.
        line: the 1-based line in ``file``, where known.
        node: the node path, such as ``layer3.2.conv1``, where known.
        expected: what the stage expected, where that helps.
        found: what it found instead.
        hint: what to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        node: str | None = None,
        expected: object = None,
        found: object = None,
        hint: str | None = None,
    ) -> None:
        location = location or Location()
        self.message = message
        self.file = location.file
        self.line = location.line
        self.node = node
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(self._format())

    @property
    def location(self) -> Location:
        return Location(self.file, self.line)

    def _format(self) -> str:
        parts = [f"{self.location}: "] if self.file or self.line else []
        if self.node:
            parts.append(f"node '{self.node}': ")
        parts.append(self.message)
        if self.expected is not None:
            parts.append(f"\n  expected: {self.expected}")
        if self.found is not None:
            parts.append(f"\n  found:    {self.found}")
        if self.hint:
            parts.append(f"\n  hint:     {self.hint}")
        return "".join(parts)

    def with_context(
        self, *, location: Location | None = None, node: str | None = None
    ) -> "SpecError":
        """Return a copy that fills in the location and node where they are missing."""
        loc = self.location if self.file or self.line else (location or self.location)
        error = type(self).__new__(type(self))
        SpecError.__init__(
            error,
            self.message,
            location=loc,
            node=self.node or node,
            expected=self.expected,
            found=self.found,
            hint=self.hint,
        )
        return error


class ShapeError(SpecError):
    """An input shape that a block cannot take (wrong channels, sizes that do not join)."""


class WeightsError(SpecError):
    """A weights file that cannot be loaded into a model: corrupt, foreign or mis-shaped."""


class PluginError(SpecError):
    """A plugin that failed to load or registered something invalid.

    Attributes:
        distribution: the name of the plugin's distribution (what ``pip
            uninstall`` takes), where known.
    """

    distribution: str | None = None

    def __init__(
        self,
        message: str,
        *,
        distribution: str | None = None,
        location: Location | None = None,
        node: str | None = None,
        expected: object = None,
        found: object = None,
        hint: str | None = None,
    ) -> None:
        self.distribution = distribution
        super().__init__(message, location=location, node=node, expected=expected, found=found, hint=hint)


class ResourceError(SpecError):
    """A spec whose parameters or activations would exceed the configured budget."""
