"""Hostile ``${...}`` expressions and expansion bombs: rejected in bounded time and memory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cvgraph
from cvgraph import Limits
from cvgraph.expand import ExpandLimits
from cvgraph.expr import ExpressionError, evaluate, substitute

from .bounds import MAX_PEAK_BYTES, MAX_SECONDS, run_bounded
from .fuzzing import fuzz_settings

BIG = [0] * 99_999

HOSTILE_EXPRESSIONS = {
    "unary_minus_on_string": ("-'a'", {}, "needs a number"),
    "zero_slice_step": ("'abc'[::0]", {}, "slice step cannot be zero"),
    "percent_format": ("'%' % 1", {}, "formatting of strings is not allowed"),
    "percent_width_bomb": ("'%0999999999d' % 1", {}, "formatting of strings is not allowed"),
    "round_huge_ndigits": ("round(10**18, -10**17)", {}, "ndigits must be an integer"),
    "complex_power": ("(-8) ** 0.5", {}, "complex number"),
    "sum_of_lists": ("sum([[1], [2]], [])", {}, "sum(): expected a list of numbers"),
    "nested_repeat_bomb": ("[big] * 99999", {"big": BIG}, "more than 100000 items"),
    "nested_literal_bomb": ("[big, big]", {"big": BIG}, "more than 100000 items"),
    "index_error_repr": ("big[100000]", {"big": BIG}, "out of range for [0, 0, 0, 0, 0, 0, ...]"),
    "power_exponent": ("2 ** 10 ** 9", {}, "exponent"),
    "huge_int": ("10 ** 60", {}, "too large"),
    "float_overflow": ("1e308 * 10", {}, "not a finite number"),
    "string_repeat": ("'ab' * 10 ** 9", {}, "more than 100000 items"),
    "division_by_zero": ("1 // 0", {}, "division by zero"),
    "attribute": ("big.__class__", {"big": BIG}, "'Attribute' is not allowed"),
    "keyword_call": ("max(1, key=abs)", {}, "keyword arguments"),
    "deep_parentheses": ("(" * 400 + "1" + ")" * 400, {}, ""),
    "long_expression": ("1+" * 600 + "1", {}, "longer than 1000"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_EXPRESSIONS))
def test_hostile_expression_rejected_within_bounds(case):
    expression, names, fragment = HOSTILE_EXPRESSIONS[case]

    result = run_bounded(lambda: _evaluate_or_spec_error(expression, names))

    assert result.error is not None, f"accepted: {result.value!r:.80}"
    assert fragment in result.error.message
    assert result.seconds < MAX_SECONDS
    assert result.peak_bytes < MAX_PEAK_BYTES


def _evaluate_or_spec_error(expression, names):
    try:
        return evaluate(expression, names)
    except ExpressionError as error:
        raise cvgraph.SpecError(str(error)) from None


def test_substitution_length_bounded():
    with pytest.raises(ExpressionError, match="more than 100000 characters"):
        substitute("${'a' * 99999}" * 5000, {})


def test_valid_expressions_still_evaluate():
    assert evaluate("round(2.567, 2)", {}) == 2.57
    assert evaluate("sum(layers) * 2", {"layers": [3, 4, 6, 3]}) == 32
    assert evaluate("-width // 2", {"width": 64}) == -32
    assert substitute("layer${index + 1}", {"index": 2}) == "layer3"


TOKENS = st.sampled_from(
    ["1", "0", "-1", "2.5", "'a'", "x", "xs", "index", "+", "-", "*", "/", "//", "%", "**", "(", ")", "[", "]",
     ",", ":", " if ", " else ", " and ", " or ", " not ", "==", "<", " in ", "min(", "max(", "abs(", "int(",
     "float(", "round(", "len(", "sum(", "__import__(", ".real", "lambda: ", "{", "}", "10**18", "xs * 99"]
)


@fuzz_settings(max_examples=300)
@given(st.lists(TOKENS, min_size=1, max_size=25).map("".join))
def test_random_expression_evaluates_or_raises_expression_error(expression):
    names = {"x": 3, "xs": [1, 2, 3], "index": 0}
    try:
        evaluate(expression, names)
    except ExpressionError:
        pass


def _spec(**extra):
    return {"name": "bomb", "inputs": {"image": {"channels": 3}}, "nodes": {"n": {"block": "relu"}}, **extra}


EXPANSION_BOMBS = {
    "skipped_sub_graphs": _spec(
        define={
            "b": {"nodes": {"a": {"block": "relu", "repeat": 0}}},
            "c": {"nodes": {"x": {"block": "b", "repeat": 10_000}}},
            "d": {"nodes": {"x": {"block": "c", "repeat": 10_000}}},
        },
        nodes={"n": {"block": "d", "repeat": 10_000}},
    ),
    "when_false_sub_graphs": _spec(
        define={
            "b": {"nodes": {"a": {"block": "relu", "when": False}}},
            "c": {"nodes": {"x": {"block": "b", "repeat": 10_000}}},
        },
        nodes={"n": {"block": "c", "repeat": 10_000}},
    ),
    "nested_repeat": _spec(
        define={"c": {"nodes": {"x": {"block": "relu", "repeat": 10_000}}}},
        nodes={"n": {"block": "c", "repeat": 10_000}},
    ),
    "recursive_sub_graph": _spec(define={"r": {"nodes": {"a": {"block": "r"}, "b": {"block": "r"}}}}, nodes={"n": {"block": "r"}}),
    "param_string_bomb": _spec(params={"s": "${'a' * 99999}" * 5000}),
    "param_nested_bomb": _spec(params={"a": "${[0] * 99999}", "b": "${[a] * 99999}"}),
    "param_literal_bomb": _spec(params={"a": "${[0] * 99999}", "b": "${[a, a, a]}"}),
}


@pytest.mark.parametrize("case", sorted(EXPANSION_BOMBS))
def test_expansion_bomb_rejected_within_time_bound(case):
    # Default limits; no memory tracing here, because tracemalloc slows expansion fivefold.
    result = run_bounded(lambda: cvgraph.load_spec(EXPANSION_BOMBS[case]), trace_memory=False)

    assert result.error is not None
    assert result.seconds < MAX_SECONDS


@pytest.mark.parametrize("case", ["skipped_sub_graphs", "nested_repeat", "param_nested_bomb"])
def test_expansion_bomb_rejected_within_memory_bound(case):
    limits = Limits(expand=ExpandLimits(max_nodes=10_000))

    result = run_bounded(lambda: cvgraph.load_spec(EXPANSION_BOMBS[case], limits=limits))

    assert result.error is not None
    assert result.peak_bytes < MAX_PEAK_BYTES
