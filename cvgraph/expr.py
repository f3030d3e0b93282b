"""A small, safe evaluator for ``${...}`` expressions in specs.

Expressions are parsed with :mod:`ast` and interpreted node by node; nothing
is passed to Python's ``eval``. Only names from the spec's params (and the
repeat ``index``), literals, arithmetic, comparisons, ``a if c else b``,
indexing and a few pure functions (``min``, ``max``, ``abs``, ``int``,
``float``, ``round``, ``len``, ``sum``) are allowed. Attribute access,
lambdas, comprehensions and any other call are rejected, and numbers and
sequences are kept small so that an expression cannot exhaust memory.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import reprlib
import warnings
from typing import Any, Callable, Mapping

__all__ = ["ExpressionError", "evaluate", "substitute", "has_expression", "short_repr"]

MAX_EXPRESSION_LENGTH = 1000
MAX_INT = 2**63
MAX_SEQUENCE = 100_000

_PATTERN = re.compile(r"\$\{([^{}]*)\}")


class ExpressionError(ValueError):
    """An expression that cannot be evaluated; the message names the reason."""


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _checked_int(value: Any) -> Any:
    return int(value)


def _checked_round(value: Any, ndigits: Any = None) -> Any:
    # round(10**18, -10**17) would compute 10**(10**17): keep ndigits small.
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > 64):
        raise ExpressionError(f"round(): ndigits must be an integer from -64 to 64, found {short_repr(ndigits)}")
    return round(value, ndigits)


def _checked_sum(values: Any, start: Any = 0) -> Any:
    # Only numbers: sum(lists, []) would concatenate without a bound on the result.
    if not isinstance(values, (list, tuple)):
        raise ExpressionError(f"sum(): expected a list of numbers, found {short_repr(values)}")
    for value in (*values, start):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"sum(): expected a list of numbers, found the item {short_repr(value)}")
    return sum(values, start)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "int": _checked_int,
    "float": float,
    "round": _checked_round,
    "len": len,
    "sum": _checked_sum,
}

_SHORT = reprlib.Repr()
_SHORT.maxlist = _SHORT.maxtuple = 6
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlevel = 3


def short_repr(value: Any) -> str:
    """Return a bounded ``repr`` for messages: a value may be a huge nested list."""
    return _SHORT.repr(value)


# Sizes of containers already measured, by id; the entry keeps the object alive
# so that its id is not reused while it is cached.
# NOTE: a list mutated after it was measured keeps its old size here. Expansion
# never mutates spec values, but a caller's own params list could be.
_SIZE_CACHE: dict[int, tuple[Any, int]] = {}
_SIZE_CACHE_ENTRIES = 256


def _nested_size(value: Any, limit: int = MAX_SEQUENCE) -> int:
    """Count the items of a value, nested lists included, and the characters of its strings.

    Stops counting once the total passes ``limit``. A list that contains the same
    big list many times counts it each time, because ``str()`` or a comparison
    of the value would walk every copy.
    """
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, (list, tuple)):
        return 1
    cached = _SIZE_CACHE.get(id(value))
    if cached is not None and cached[0] is value:
        return cached[1]
    total = len(value)
    for item in value:
        if total > limit:
            return total
        if isinstance(item, (str, list, tuple)):
            total += _nested_size(item, limit - total)
    # Only a complete count is cached: a partial one is correct for this limit only.
    if len(_SIZE_CACHE) >= _SIZE_CACHE_ENTRIES:
        _SIZE_CACHE.clear()
    _SIZE_CACHE[id(value)] = (value, total)
    return total


def _bounded(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) >= MAX_INT:
        raise ExpressionError("the result is too large (magnitude 2**63 or more)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("the result is not a finite number")
    if isinstance(value, complex):
        raise ExpressionError("the result is a complex number")
    if isinstance(value, (str, list, tuple)) and _nested_size(value) > MAX_SEQUENCE:
        raise ExpressionError(f"the result has more than {MAX_SEQUENCE} items, nested items and characters included")
    return value


class _Interpreter:
    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = names

    def run(self, node: ast.AST) -> Any:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise ExpressionError(f"'{type(node).__name__}' is not allowed in a spec expression")
        return _bounded(method(node))

    def _Expression(self, node: ast.Expression) -> Any:
        return self.run(node.body)

    def _Constant(self, node: ast.Constant) -> Any:
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            raise ExpressionError(f"the constant {node.value!r} is not allowed")
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        if node.id not in self.names:
            known = ", ".join(sorted(self.names)) or "none"
            raise ExpressionError(f"unknown name '{node.id}' (known names: {known})")
        return self.names[node.id]

    def _List(self, node: ast.List) -> Any:
        return [self.run(item) for item in node.elts]

    def _Tuple(self, node: ast.Tuple) -> Any:
        return [self.run(item) for item in node.elts]

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.run(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise ExpressionError(f"the operator '{type(node.op).__name__}' needs a number, found {short_repr(operand)}")
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
        raise ExpressionError(f"the operator '{type(node.op).__name__}' is not allowed")

    def _BinOp(self, node: ast.BinOp) -> Any:
        left = self.run(node.left)
        right = self.run(node.right)
        function = _BINARY.get(type(node.op))
        if function is None:
            raise ExpressionError(f"the operator '{type(node.op).__name__}' is not allowed")
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 64:
            raise ExpressionError(f"the exponent {right} is too large (at most 64)")
        if isinstance(node.op, ast.Mod) and isinstance(left, str):
            # '%0999999999d' % 1 would build a huge string before any check.
            raise ExpressionError("'%' formatting of strings is not allowed; write the text around '${...}'")
        if isinstance(node.op, ast.Mult):
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list)) and isinstance(count, int) and _nested_size(seq) * count > MAX_SEQUENCE:
                    raise ExpressionError(f"the result would have more than {MAX_SEQUENCE} items")
        try:
            return function(left, right)
        except ZeroDivisionError:
            raise ExpressionError("division by zero") from None
        except (TypeError, ValueError, OverflowError) as error:
            raise ExpressionError(str(error)) from None

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = self.run(value)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = self.run(value)
            if result:
                return result
        return result

    def _Compare(self, node: ast.Compare) -> Any:
        left = self.run(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.run(comparator)
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError as error:
                raise ExpressionError(str(error)) from None
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.run(node.body) if self.run(node.test) else self.run(node.orelse)

    def _Subscript(self, node: ast.Subscript) -> Any:
        container = self.run(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = [None if p is None else self.run(p) for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            try:
                return container[slice(*parts)]
            except (TypeError, ValueError) as error:
                raise ExpressionError(str(error)) from None
        key = self.run(node.slice)
        try:
            return container[key]
        except (IndexError, KeyError):
            raise ExpressionError(f"index {short_repr(key)} is out of range for {short_repr(container)}") from None
        except (TypeError, ValueError) as error:
            raise ExpressionError(str(error)) from None

    def _Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            shown = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            allowed = ", ".join(sorted(_FUNCTIONS))
            raise ExpressionError(f"calling '{shown}' is not allowed (allowed functions: {allowed})")
        if node.keywords:
            raise ExpressionError("keyword arguments are not allowed in spec expressions")
        args = [self.run(arg) for arg in node.args]
        try:
            return _FUNCTIONS[node.func.id](*args)
        except ExpressionError:
            raise
        except (TypeError, ValueError, OverflowError) as error:
            raise ExpressionError(f"{node.func.id}(): {error}") from None


def evaluate(expression: str, names: Mapping[str, Any]) -> Any:
    """Evaluate one expression (the text inside ``${...}``) with ``names`` in scope.

    Raises:
        ExpressionError: for syntax errors, unknown names and anything not allowed.
    """
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        with warnings.catch_warnings():
            # Spec text such as '1in x' would print SyntaxWarnings from the parser.
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"invalid expression syntax: {error.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("the expression cannot be parsed") from None
    try:
        return _Interpreter(names).run(tree)
    except RecursionError:
        raise ExpressionError("the expression nests too deeply") from None


def has_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def substitute(text: str, names: Mapping[str, Any]) -> Any:
    """Replace ``${...}`` in ``text``.

    A string that is exactly one ``${expr}`` becomes the expression's value with
    its type (``"${width * 2}"`` gives the integer 128). Otherwise each
    ``${expr}`` is formatted into the string. ``$${`` writes a literal ``${``.
    """
    escaped = text.replace("$${", "\x00")
    match = _PATTERN.fullmatch(escaped)
    if match is not None:
        return evaluate(match.group(1), names)

    length = len(escaped)

    def replace(m: re.Match[str]) -> str:
        nonlocal length
        text = str(evaluate(m.group(1), names))
        length += len(text)
        if length > MAX_SEQUENCE:
            raise ExpressionError(f"the string would have more than {MAX_SEQUENCE} characters after substitution")
        return text

    result = _PATTERN.sub(replace, escaped)
    if "${" in result:
        raise ExpressionError("unclosed or nested '${' in the string")
    return result.replace("\x00", "${")
