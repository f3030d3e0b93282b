"""Spec errors name the file, line, node path, what was expected and what was found."""

from __future__ import annotations

import textwrap
import warnings

import pytest

import cvgraph
from cvgraph.graph import UnusedNodeWarning


def _load(tmp_path, text, **kwargs):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path, kwargs


def _error(tmp_path, text, input_size=None) -> cvgraph.SpecError:
    path, _ = _load(tmp_path, text)
    with pytest.raises(cvgraph.SpecError) as caught:
        spec = cvgraph.load_spec(path)
        cvgraph.infer_shapes(spec, {"image": input_size} if input_size else None)
    assert caught.value.file == str(path)
    return caught.value


def test_string_for_integer_arg_is_rejected_at_its_line(tmp_path):
    error = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          conv1:
            block: conv2d
            args:
              kernel_size: 3
              out_channels: "64"
        """,
    )
    assert error.line == 8
    assert error.node == "conv1"
    assert "out_channels" in error.message
    assert error.found == "'64' (str)"


@pytest.mark.parametrize("value", ["64.0", "true"])
def test_float_and_bool_for_integer_arg_are_rejected(tmp_path, value):
    error = _error(
        tmp_path,
        f"""
        name: t
        inputs: {{image: {{channels: 3}}}}
        nodes:
          conv1: {{block: conv2d, args: {{out_channels: {value}, kernel_size: 3}}}}
        """,
    )
    assert error.line == 4
    assert "out_channels" in error.message


def test_unknown_block_gets_did_you_mean(tmp_path):
    error = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          stem: {block: conv2d, args: {out_channels: 8, kernel_size: 3}}
          act: {block: reluu}
        """,
    )
    assert error.line == 5
    assert error.node == "act"
    assert "unknown block 'reluu'" in error.message
    assert "'relu'" in error.hint


def test_channel_mismatch_in_nested_node_names_full_path(tmp_path):
    error = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        define:
          pair:
            nodes:
              conv1: {block: conv2d, args: {out_channels: 8, kernel_size: 1}}
              conv2: {block: conv2d, args: {out_channels: 8, kernel_size: 1, groups: 3}}
        nodes:
          layer3: {block: pair, repeat: 3}
        """,
    )
    assert error.node == "layer3.0.conv2"
    assert error.line == 7
    assert "groups=3" in error.message
    assert "in_channels=8" in error.found


def test_add_of_different_sizes_lists_nearest_valid_sizes(tmp_path):
    error = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          down: {block: conv2d, args: {out_channels: 3, kernel_size: 3, stride: 2, padding: 1}}
          up: {block: conv_transpose2d, args: {out_channels: 3, kernel_size: 2, stride: 2}}
          join: {block: add, from: [image, up]}
        """,
        input_size="1x3x225x225",
    )
    assert error.node == "join"
    assert error.line == 6
    assert error.expected == "FeatureMap(3x225x225)"
    assert error.found == "FeatureMap(3x226x226)"
    assert "nearest valid sizes: 224, 226" in error.hint


def test_cycle_is_reported_with_its_nodes(tmp_path):
    error = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          a: {block: relu, from: c}
          b: {block: relu}
          c: {block: relu}
        """,
    )
    assert "cycle" in error.message
    assert error.found == "a -> b -> c -> a"


def test_unknown_from_and_wrong_arity(tmp_path):
    unknown = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          a: {block: relu}
          b: {block: add, from: [a, aa_typo]}
        """,
    )
    assert unknown.node == "b"
    assert "unknown node 'aa_typo'" in unknown.message

    arity = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          a: {block: relu}
          b: {block: add}
        """,
    )
    assert arity.node == "b"
    assert "at least 2" in arity.message


def test_missing_output_node_is_an_error(tmp_path):
    error = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          a: {block: relu}
        outputs: {logits: fc}
        """,
    )
    assert error.line == 5
    assert "unknown node 'fc'" in error.message


def test_unused_node_warns_with_location(tmp_path):
    path, _ = _load(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          a: {block: relu}
          dead: {block: relu, from: image}
        outputs: {out: a}
        """,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = cvgraph.build(path)

    messages = [str(w.message) for w in caught if issubclass(w.category, UnusedNodeWarning)]
    assert len(messages) == 1
    assert f"{path}:5" in messages[0]
    assert "dead" in messages[0]
    assert not hasattr(model, "dead")


def test_duplicate_key_names_both_lines(tmp_path):
    error = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          a: {block: relu}
          a: {block: relu}
        """,
    )
    assert error.line == 5
    assert "duplicate key 'a'" in error.message
    assert "line 4" in error.found


def test_many_problems_are_listed_one_per_line(tmp_path):
    error = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          conv: {block: conv2d, args: {out_channels: -1, kernel_size: 3, paddin: 1}}
        """,
    )
    assert "2 problems" in error.message
    assert "out_channels" in error.message
    assert "did you mean 'padding'" in error.message


def test_declared_in_channels_mismatch_shows_both_shapes(tmp_path):
    error = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        nodes:
          stem: {block: conv2d, args: {out_channels: 16, kernel_size: 3}}
          conv2: {block: conv2d, args: {in_channels: 32, out_channels: 8, kernel_size: 1}}
        """,
        input_size="1x3x32x32",
    )
    assert error.node == "conv2"
    assert error.line == 5
    assert error.expected == "FeatureMap with 32 channels"
    assert error.found == "FeatureMap(16x30x30)"


def test_extends_with_misspelled_param_is_rejected(tmp_path):
    error = _error(tmp_path, "name: x\nextends: resnet18\nparams:\n  widht: 32\n")

    assert error.line == 4
    assert "param 'widht' is not declared by the base spec 'resnet18'" in error.message
    assert "'width'" in error.hint


def test_unknown_output_of_subgraph_instance(tmp_path):
    single = _error(
        tmp_path,
        """
        name: t
        include: [_resnet_blocks]
        inputs: {image: {channels: 3}}
        nodes:
          blk: {block: basic_block, args: {planes: 3}}
          r: {block: relu, from: blk.conv1}
        """,
    )
    assert single.node == "r"
    assert "sub-graph instance 'blk' has a single output" in single.message

    named = _error(
        tmp_path,
        """
        name: t
        inputs: {image: {channels: 3}}
        define:
          two:
            nodes:
              a: {block: relu}
              b: {block: relu}
            outputs: {left: a, right: b}
        nodes:
          t: {block: two}
          r: {block: relu, from: t.lefft}
        """,
    )
    assert "sub-graph instance 't' has no output named 'lefft'" in named.message
    assert named.expected == "one of: left, right"
    assert "'left'" in named.hint
