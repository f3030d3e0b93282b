"""Read spec text (YAML or JSON) into a tree that remembers the line of every key.

Specs are untrusted data, so the reader is strict and bounded:

* YAML goes through PyYAML's safe loader with the YAML 1.2 core schema
  resolvers: ``1e-3`` is a float, and ``on``, ``no`` and ``y`` stay strings.
* Tags that would construct objects (``!!python/object``), aliases (the
  basis of "billion laughs" expansion bombs), duplicate keys, NaN, infinity,
  integers beyond 64 bits, strings beyond ``limits.max_string_length`` and
  nesting deeper than ``limits.max_depth`` are rejected with a located error.
* Text that is not UTF-8 is rejected with the byte offset.
"""

from __future__ import annotations

import json
import math
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from .errors import Location, SpecError

__all__ = ["LoadLimits", "LocDict", "LocList", "load_text", "load_file", "location_of"]


@dataclass(frozen=True)
class LoadLimits:
    """Bounds on what the reader accepts from a spec file.

    Attributes:
        max_bytes: size of the whole file.
        max_depth: nesting of mappings and lists.
        max_string_length: characters in one string.
        max_nodes: YAML nodes (keys, values, list items) in the whole file.
    """

    # PyYAML's pure-Python parser takes about 50 to 90 microseconds per node
    # (measured on 2 CPU cores), so 100,000 nodes bound a hostile file to seconds,
    # not minutes. The zoo's largest spec has under 200 nodes.
    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 64
    max_string_length: int = 65536
    max_nodes: int = 100_000


DEFAULT_LIMITS = LoadLimits()
_MAX_INT = 2**63


class LocDict(dict):
    """A dict that also stores where it and each of its keys were written."""

    location: Location
    key_locations: dict[str, Location]

    def __init__(self, *args: Any, location: Location | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.location = location or Location()
        self.key_locations = {}

    def location_of(self, key: str) -> Location:
        return self.key_locations.get(key, self.location)


class LocList(list):
    """A list that also stores where it and each of its items were written."""

    location: Location
    item_locations: list[Location]

    def __init__(self, *args: Any, location: Location | None = None) -> None:
        super().__init__(*args)
        self.location = location or Location()
        self.item_locations = []

    def location_of(self, index: int) -> Location:
        if 0 <= index < len(self.item_locations):
            return self.item_locations[index]
        return self.location


def location_of(container: Any, key: Any = None) -> Location:
    """Return where ``container[key]`` (or the container itself) was written, if known."""
    if key is not None and isinstance(container, (LocDict, LocList)):
        return container.location_of(key)
    return getattr(container, "location", Location())


# YAML 1.2 core schema: the implicit types of JSON plus a few YAML spellings.
_CORE_RESOLVERS: list[tuple[str, str, str]] = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
]

_ALLOWED_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


class _CoreResolver(BaseResolver):
    yaml_implicit_resolvers: dict = {}


for _tag, _pattern, _first in _CORE_RESOLVERS:
    _CoreResolver.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


class _SpecLoader(Reader, Scanner, Parser, Composer, SafeConstructor, _CoreResolver):
    """PyYAML's safe loader with YAML 1.2 scalars, located containers and bounds."""

    def __init__(self, stream: str, file: str | None, limits: LoadLimits) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _CoreResolver.__init__(self)
        self.file = file
        self.limits = limits
        self._depth = 0
        self._node_count = 0

    def _loc(self, node_or_mark: Any) -> Location:
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        return Location(self.file, mark.line + 1 if mark is not None else None)

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise SpecError(
                f"YAML alias '*{event.anchor}' is not allowed in a spec",
                location=self._loc(event),
                hint="aliases can expand exponentially; use 'params' or 'define' to reuse values",
            )
        self._node_count += 1
        if self._node_count > self.limits.max_nodes:
            raise SpecError(
                f"the spec has more than {self.limits.max_nodes} YAML nodes",
                location=self._loc(event),
                hint="raise LoadLimits.max_nodes if the spec is really this large",
            )
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise SpecError(
                f"the spec nests deeper than {self.limits.max_depth} levels",
                location=self._loc(event),
                hint="flatten the structure, or raise LoadLimits.max_depth",
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:  # type: ignore[override]
        if node.tag not in _ALLOWED_TAGS:
            raise SpecError(
                f"YAML tag '{node.tag}' is not allowed in a spec",
                location=self._loc(node),
                hint="specs hold plain data only: mappings, lists, strings, numbers, booleans and null",
            )
        return super().construct_object(node, deep=deep)

    def construct_scalar(self, node: ScalarNode) -> Any:  # type: ignore[override]
        value = super().construct_scalar(node)
        if isinstance(value, str) and len(value) > self.limits.max_string_length:
            raise SpecError(
                f"a string of {len(value)} characters is longer than the limit",
                location=self._loc(node),
                expected=f"at most {self.limits.max_string_length} characters",
            )
        return value

    def construct_yaml_int(self, node: ScalarNode) -> int:
        text = self.construct_scalar(node).replace("_", "")
        if len(text) > 40:
            raise _too_large(text, self._loc(node))
        try:
            value = int(text, 0) if text.startswith(("0x", "0o")) else int(text)
        except ValueError:
            raise _invalid_scalar(text, "an integer", self._loc(node)) from None
        if abs(value) >= _MAX_INT:
            raise _too_large(text, self._loc(node))
        return value

    def construct_yaml_float(self, node: ScalarNode) -> float:
        text = self.construct_scalar(node)
        try:
            value = float(text.lower().replace(".inf", "inf").replace(".nan", "nan"))
        except ValueError:
            raise _invalid_scalar(text, "a number", self._loc(node)) from None
        if not math.isfinite(value):
            raise SpecError(
                f"the number {text} is not finite",
                location=self._loc(node),
                expected="a finite number",
                found=text,
            )
        return value

    def construct_yaml_bool(self, node: ScalarNode) -> bool:
        text = self.construct_scalar(node)
        if text.lower() not in ("true", "false"):
            raise _invalid_scalar(text, "true or false", self._loc(node))
        return text.lower() == "true"

    def _expect_kind(self, node: Node, kind: type, what: str) -> None:
        # An explicit tag (!!seq, !!map) can sit on a node of another kind.
        if not isinstance(node, kind):
            raise SpecError(
                f"a YAML {node.id} is tagged as a {what}",
                location=self._loc(node),
                hint=f"remove the tag '{node.tag}'",
            )

    def construct_yaml_seq(self, node: SequenceNode):  # type: ignore[override]
        self._expect_kind(node, SequenceNode, "sequence")
        data = LocList(location=self._loc(node))
        yield data
        for child in node.value:
            data.append(self.construct_object(child, deep=True))
            data.item_locations.append(self._loc(child))

    def construct_yaml_map(self, node: MappingNode):  # type: ignore[override]
        self._expect_kind(node, MappingNode, "mapping")
        data = LocDict(location=self._loc(node))
        yield data
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                if isinstance(key, (int, float, bool)) or key is None:
                    key = str(key).lower() if isinstance(key, bool) or key is None else str(key)
                else:
                    raise SpecError(
                        "a mapping key must be a string or a number",
                        location=self._loc(key_node),
                        found=type(key).__name__,
                    )
            if key in data:
                raise SpecError(
                    f"duplicate key '{key}'",
                    location=self._loc(key_node),
                    found=f"'{key}' first written at line {data.key_locations[key].line}",
                    hint="remove or rename one of the two entries",
                )
            data.key_locations[key] = self._loc(key_node)
            data[key] = self.construct_object(value_node, deep=True)


_SpecLoader.add_constructor("tag:yaml.org,2002:int", _SpecLoader.construct_yaml_int)
_SpecLoader.add_constructor("tag:yaml.org,2002:float", _SpecLoader.construct_yaml_float)
_SpecLoader.add_constructor("tag:yaml.org,2002:bool", _SpecLoader.construct_yaml_bool)
_SpecLoader.add_constructor("tag:yaml.org,2002:seq", _SpecLoader.construct_yaml_seq)
_SpecLoader.add_constructor("tag:yaml.org,2002:map", _SpecLoader.construct_yaml_map)


def _too_large(text: str, location: Location) -> SpecError:
    shown = text if len(text) <= 24 else text[:20] + "..."
    return SpecError(
        f"the integer {shown} is too large",
        location=location,
        expected="an integer of magnitude below 2**63",
        found=f"{len(text)} digits",
    )


def _invalid_scalar(text: str, expected: str, location: Location) -> SpecError:
    shown = text if len(text) <= 24 else text[:20] + "..."
    return SpecError(f"invalid value {shown!r}", location=location, expected=expected, found=shown)


def _decode(data: bytes, file: str | None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(
            f"the spec is not valid UTF-8 (invalid byte at offset {error.start})",
            location=Location(file),
            hint="save the file as UTF-8",
        ) from None


def load_text(
    text: str | bytes, *, file: str | None = None, limits: LoadLimits = DEFAULT_LIMITS, json_only: bool = False
) -> Any:
    """Parse spec text into plain data with :class:`LocDict` and :class:`LocList` containers.

    Args:
        text: the YAML or JSON text, as str or UTF-8 bytes.
        file: the file name to report in errors.
        limits: the bounds to enforce.
        json_only: parse as strict JSON (used for ``.json`` files that YAML cannot read).

    Raises:
        SpecError: for text that is not valid, not safe or too large.
    """
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > limits.max_bytes:
        raise SpecError(
            f"the spec is {size} bytes, more than the limit",
            location=Location(file),
            expected=f"at most {limits.max_bytes} bytes",
            hint="raise LoadLimits.max_bytes if the spec is really this large",
        )
    if isinstance(text, bytes):
        text = _decode(text, file)
    if "\x00" in text:
        raise SpecError("the spec contains a NUL character", location=Location(file), hint="specs are text files")

    if json_only:
        return _load_json(text, file, limits)

    try:
        # The reader checks the characters as it is created.
        loader = _SpecLoader(text, file, limits)
    except yaml.YAMLError as error:
        raise SpecError(f"invalid YAML: {error}", location=Location(file)) from None
    try:
        node = loader.get_single_node()
        return loader.construct_document(node) if node is not None else None
    except SpecError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = error.problem or error.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", location=Location(file, line)) from None
    except yaml.YAMLError as error:
        raise SpecError(f"invalid YAML: {error}", location=Location(file)) from None
    except RecursionError:
        raise SpecError("the spec nests too deeply to read", location=Location(file)) from None
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # NOTE: a safety net for PyYAML constructors that fail on a tagged value
        # without a YAMLError; the known cases raise located errors above.
        raise SpecError(f"invalid YAML value: {type(error).__name__}: {error}", location=Location(file)) from None
    finally:
        loader.dispose()


def _load_json(text: str, file: str | None, limits: LoadLimits) -> Any:
    def pairs_hook(pairs: list[tuple[str, Any]]) -> LocDict:
        data = LocDict(location=Location(file))
        for key, value in pairs:
            if key in data:
                raise SpecError(f"duplicate key '{key}'", location=Location(file), hint="remove one of the two entries")
            data[key] = value
        return data

    def reject_constant(name: str) -> Any:
        raise SpecError(f"the number {name} is not finite", location=Location(file), expected="a finite number")

    def parse_int(digits: str) -> int:
        if len(digits) > 40 or abs(int(digits)) >= _MAX_INT:
            raise _too_large(digits, Location(file))
        return int(digits)

    try:
        data = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=reject_constant, parse_int=parse_int)
    except json.JSONDecodeError as error:
        raise SpecError(f"invalid JSON: {error.msg} (column {error.colno})", location=Location(file, error.lineno)) from None
    except RecursionError:
        raise SpecError("the spec nests too deeply to read", location=Location(file)) from None
    _check_json_tree(data, file, limits)
    return data


def _check_json_tree(data: Any, file: str | None, limits: LoadLimits) -> None:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limits.max_depth:
            raise SpecError(f"the spec nests deeper than {limits.max_depth} levels", location=Location(file))
        if isinstance(value, str) and len(value) > limits.max_string_length:
            raise SpecError(
                f"a string of {len(value)} characters is longer than the limit",
                location=Location(file),
                expected=f"at most {limits.max_string_length} characters",
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError("a number is not finite", location=Location(file), expected="a finite number")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def load_file(path: str | Path, *, limits: LoadLimits = DEFAULT_LIMITS) -> Any:
    """Read and parse one spec file (``.yaml``, ``.yml`` or ``.json``).

    Raises:
        SpecError: when the file is missing, unreadable or invalid.
    """
    path = Path(path)
    file = str(path)
    try:
        status = path.stat()
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(status.st_mode):
            # /dev/zero or a named pipe would never end, or never start.
            raise SpecError("the spec path is not a regular file", location=Location(file), hint="pass a .yaml or .json file")
        if status.st_size > limits.max_bytes:
            raise SpecError(
                f"the spec is {status.st_size} bytes, more than the limit",
                location=Location(file),
                expected=f"at most {limits.max_bytes} bytes",
            )
        with path.open("rb") as stream:
            data = stream.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise SpecError("spec file not found", location=Location(file), hint="check the path") from None
    except IsADirectoryError:
        raise SpecError("the spec path is a folder, not a file", location=Location(file)) from None
    except OSError as error:
        raise SpecError(f"cannot read the spec: {error.strerror}", location=Location(file)) from None

    if path.suffix.lower() != ".json":
        return load_text(data, file=file, limits=limits)
    try:
        return load_text(data, file=file, limits=limits)
    except SpecError as yaml_error:
        # JSON that YAML cannot read (tabs, for example) is still valid JSON: parse it without lines.
        if "invalid YAML" not in yaml_error.message:
            raise
        return load_text(data, file=file, limits=limits, json_only=True)
