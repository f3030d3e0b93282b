"""Spec fuzzer: random graphs of built-in blocks and mutated zoo specs.

Every case must either build a model whose real output shapes equal the
inferred ones, or raise a SpecError located by file or node. The number of
examples per test is ``CVGRAPH_FUZZ_EXAMPLES`` (40 by default); the long
campaign is ``python -m tests.hostile.campaign``.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given

from .fuzzing import CI_EXAMPLES, check_spec_tree, fuzz_settings, graph_specs, mutated_zoo_specs

@fuzz_settings()
@given(graph_specs())
def test_random_graph_builds_or_raises_located_error(case):
    spec, input_size = case
    outcome = check_spec_tree(spec, input_size)
    event(outcome.kind)


@fuzz_settings(max(5, CI_EXAMPLES // 3))
@given(mutated_zoo_specs())
def test_mutated_zoo_spec_builds_or_raises_located_error(case):
    file_name, tree, input_size = case
    outcome = check_spec_tree(tree, input_size, file_name)
    event(outcome.kind)


def test_random_graphs_include_successful_builds():
    # The fuzzer is only useful if many drawn graphs are valid and really run.
    built: list[int] = []

    @fuzz_settings(100)
    @given(graph_specs())
    def run(case):
        spec, input_size = case
        if check_spec_tree(spec, input_size).kind == "built":
            built.append(len(spec["nodes"]))

    run()

    assert len(built) >= 5, f"only {len(built)} of 100 drawn graphs built"
    assert max(built) >= 3


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ({"name": "t", "inputs": {"image": {"channels": 3}}, "nodes": {"training": {"block": "relu"}}}, "training"),
        ({"name": "t", "inputs": {"image": {"channels": 3}}, "nodes": {"def": {"block": "relu"}}}, "def"),
        ({"name": "t", "inputs": {"class": {"channels": 3}}, "nodes": {"a": {"block": "relu"}}}, "class"),
        ({"name": "t", "inputs": {"self": {"channels": 3}}, "nodes": {"a": {"block": "relu"}}}, "self"),
        ({"name": "t", "inputs": {"image": {"channels": 3}}, "nodes": {"a": {"block": "relu"}}, "outputs": []}, "empty"),
        (
            {"name": "t", "inputs": {"image": {"channels": 3}}, "nodes": {"self": {"block": "relu"}, "n": {"block": "relu"}}},
            "'self'",
        ),
        (
            {"name": "t", "inputs": {"image": {"channels": 3}}, "nodes": {"p": {"block": "maxpool2d", "args": {"kernel_size": 1, "dilation": 0}}}},
            "dilation must be >= 1",
        ),
        (
            {"name": "t", "inputs": {"image": {"channels": 3}}, "nodes": {"p": {"block": "avgpool2d", "args": {"kernel_size": 1, "stride": 2**40}}}},
            "at most 2147483647",
        ),
        (
            {"name": "t", "inputs": {"image": {"channels": 1, "height": 1, "width": 1}}, "nodes": {"g": {"block": "groupnorm", "args": {"num_groups": 1}}}},
            "more than 1 value per group",
        ),
        (
            {"name": "t", "inputs": {"image": {"channels": 1}}, "nodes": {"p": {"block": "maxpool2d", "args": {"kernel_size": 3, "padding": 2, "dilation": 2}}}},
            "at most half the window",
        ),
        (
            {"name": "t", "inputs": {"image": {"channels": 1, "height": 2, "width": 2}}, "nodes": {"c": {"block": "conv2d", "args": {"out_channels": 1, "kernel_size": 1, "padding": 2, "padding_mode": "reflect"}}}},
            "too large for padding_mode 'reflect'",
        ),
        (
            {"name": "t", "inputs": {"image": {"channels": 1, "height": 2, "width": 2}}, "nodes": {"c": {"block": "conv2d", "args": {"out_channels": 1, "kernel_size": 1, "padding": 3, "padding_mode": "circular"}}}},
            "too large for padding_mode 'circular'",
        ),
    ],
)
def test_fuzzer_found_names_and_outputs_rejected(spec, fragment):
    # Cases the fuzzer found. They used to raise KeyError, SyntaxError or AttributeError,
    # build a model without outputs, or fail in forward (maxpool2d with dilation 0,
    # pooling strides beyond int32, groupnorm groups of one value, reflect or circular
    # padding larger than the input).
    image = spec["inputs"][next(iter(spec["inputs"]))]
    outcome = check_spec_tree(spec, f"1x{image['channels']}x{image.get('height', 8)}x{image.get('width', 8)}")
    assert outcome.kind == "rejected"
    assert fragment in str(outcome.error)
