"""Turn pydantic validation errors into located :class:`SpecError` messages."""

from __future__ import annotations

import difflib
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from .errors import Location, SpecError
from .expr import short_repr
from .loader import LocDict, LocList

__all__ = ["validate_model", "describe_value"]


def describe_value(value: Any, limit: int = 60) -> str:
    """Return a short ``repr`` of a value with its type, for 'found' fields."""
    text = short_repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if isinstance(value, (dict, list)):
        return f"{type(value).__name__} {text}"
    return f"{text} ({type(value).__name__})"


def _locate(tree: Any, loc: Iterable[Any], default: Location) -> tuple[Location, Any]:
    location = getattr(tree, "location", default)
    node: Any = tree
    for key in loc:
        if isinstance(node, LocDict) and key in node:
            location = node.location_of(key)
            node = node[key]
        elif isinstance(node, LocList) and isinstance(key, int) and 0 <= key < len(node):
            location = node.location_of(key)
            node = node[key]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            break
    return location, node


def _model_in(annotation: Any) -> tuple[Any, bool]:
    """Return the pydantic model inside an annotation, and whether it sits in a dict."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = getattr(annotation, "__origin__", None)
    for arg in getattr(annotation, "__args__", ()):
        model, _ = _model_in(arg)
        if model is not None:
            return model, origin is dict
    return None, False


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Return the field names a model accepts at ``loc``, for 'did you mean' hints."""
    current: Any = model
    keys = list(loc)
    while keys:
        key = keys.pop(0)
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(key) or next(
            (f for f in current.model_fields.values() if f.alias == key), None
        )
        if field is None:
            return []
        current, in_dict = _model_in(field.annotation)
        if current is None:
            return []
        if in_dict:
            if not keys:
                return []
            keys.pop(0)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _node_of(loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "nodes":
        return str(loc[1])
    if len(loc) >= 4 and loc[0] == "define" and loc[2] == "nodes":
        return f"{loc[1]} (sub-graph).{loc[3]}"
    return None


def _translate(model: type[BaseModel], error: dict[str, Any], tree: Any, default: Location, node: str | None, what: str) -> SpecError:
    loc = tuple(error["loc"])
    kind = error["type"]
    key = ".".join(str(part) for part in loc)
    location, _value = _locate(tree, loc, default)
    node = node or _node_of(loc)

    if kind == "missing":
        return SpecError(f"{what}: missing required key '{loc[-1]}'", location=location, node=node, expected=f"a value for '{key}'")
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=3)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None
        return SpecError(
            f"{what}: unknown key '{loc[-1]}'",
            location=location,
            node=node,
            expected=f"one of: {', '.join(allowed)}" if allowed else None,
            found=key,
            hint=hint,
        )
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    expected = _EXPECTED.get(kind)
    if not key:
        # A check across several fields: its message names them, and the input is the whole mapping.
        return SpecError(f"{what}: {message}", location=location, node=node, expected=expected)
    return SpecError(
        f"{what}: invalid '{key}': {message}",
        location=location,
        node=node,
        expected=expected,
        found=describe_value(error.get("input")),
    )


_EXPECTED = {
    "int_type": "an integer (strings, floats and booleans are not converted)",
    "bool_type": "true or false",
    "float_type": "a number",
    "string_type": "a string",
    "dict_type": "a mapping",
    "list_type": "a list",
}


def validate_model(
    model: type[BaseModel],
    data: Any,
    *,
    tree: Any = None,
    location: Location | None = None,
    node: str | None = None,
    what: str = "spec",
) -> Any:
    """Validate ``data`` with ``model``; raise one :class:`SpecError` naming each problem.

    Args:
        model: the pydantic model.
        data: the value to validate.
        tree: the located tree that ``data`` came from, for line numbers (default: ``data``).
        location: the location to report when a key has none.
        node: the node path to report.
        what: what is validated, for the message ("spec", "args of block 'conv2d'").
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        translated = [_translate(model, e, data if tree is None else tree, location or Location(), node, what) for e in errors]
        first = translated[0]
        if len(translated) == 1:
            raise first from None
        lines = "\n".join(f"  - {e.location}: {_one_line(e)}" for e in translated[:10])
        more = f"\n  - and {len(translated) - 10} more" if len(translated) > 10 else ""
        raise SpecError(
            f"{what}: {len(translated)} problems\n{lines}{more}",
            location=first.location,
            node=node or first.node,
        ) from None


def _one_line(error: SpecError) -> str:
    text = error.message
    if error.node:
        text = f"node '{error.node}': {text}"
    if error.found is not None:
        text += f" (found {error.found})"
    if error.hint:
        text += f"; {error.hint}"
    return text
