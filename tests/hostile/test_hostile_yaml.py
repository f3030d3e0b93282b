"""Hostile YAML and JSON: each is rejected with a clear message, in bounded time and memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cvgraph
from cvgraph.loader import LoadLimits, load_file, load_text

from .bounds import MAX_PEAK_BYTES, MAX_SECONDS, run_bounded
from .fuzzing import fuzz_settings

BILLION_LAUGHS = "\n".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
)

HOSTILE_TEXTS = {
    "python_object_apply": ('x: !!python/object/apply:os.system ["touch {canary}"]', "tag"),
    "python_object_new": ('x: !!python/object/new:subprocess.Popen [["touch", "{canary}"]]', "tag"),
    "python_name": ("x: !!python/name:os.system", "tag"),
    "python_module": ("x: !!python/module:os", "tag"),
    "verbatim_tag": ('x: !<tag:yaml.org,2002:python/object/apply:os.system> ["touch {canary}"]', "tag"),
    "local_tag": ("x: !custom {a: 1}", "tag"),
    "binary_tag": ("x: !!binary aGVsbG8=", "tag"),
    "set_tag": ("x: !!set {a, b}", "tag"),
    "billion_laughs": (BILLION_LAUGHS, "alias"),
    "merge_key_alias": ("base: &b {a: 1}\nx:\n  <<: *b", "alias"),
    "flow_nesting": ("x: " + "[" * 100_000 + "]" * 100_000, "nests deeper"),
    "block_nesting": ("".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1", "nests deeper"),
    "long_string": ("x: " + "a" * 70_000, "longer than the limit"),
    "long_key": ("? " + "k" * 70_000 + "\n: 1", "longer than the limit"),
    "nan": ("x: .nan", "not finite"),
    "inf": ("x: .inf", "not finite"),
    "negative_inf": ("x: -.Inf", "not finite"),
    "overflowing_float": ("x: 1e999", "not finite"),
    "huge_int": ("x: " + "9" * 50, "too large"),
    "huge_int_64_bits": ("x: 9223372036854775808", "too large"),
    "huge_hex": ("x: 0x" + "f" * 30, "too large"),
    "duplicate_key": ("name: a\nname: b", "duplicate key 'name'"),
    "duplicate_nested_key": ("nodes:\n  conv:\n    block: relu\n  conv:\n    block: relu", "duplicate key 'conv'"),
    "tagged_bad_int": ("x: !!int abc", "invalid value"),
    "tagged_bad_bool": ("x: !!bool maybe", "invalid value"),
    "tagged_seq_on_map": ("x: !!seq {a: 1}", "tagged as a sequence"),
    "nul_character": ("x: a\x00b", "NUL"),
    "complex_key": ("? [a, b]\n: 1", "mapping key"),
}

HOSTILE_JSON = {
    "json_nan": ('{"x": NaN, "y": [\t1]}', "not finite"),
    "json_infinity": ('{"x": -Infinity, "y": [\t1]}', "not finite"),
    "json_duplicate_key": ('{"a": 1,\t"a": 2}', "duplicate key 'a'"),
    "json_huge_int": ('{"a":\t' + "1" * 60 + "}", "too large"),
    "json_deep": ('{"a":\t' + "[" * 5000 + "]" * 5000 + "}", "nests"),
}


def _check_rejected(result, fragment: str) -> None:
    assert result.error is not None, f"accepted: {result.value!r:.100}"
    assert fragment in result.error.message
    assert result.seconds < MAX_SECONDS
    assert result.peak_bytes < MAX_PEAK_BYTES


@pytest.mark.parametrize("case", sorted(HOSTILE_TEXTS))
def test_hostile_yaml_rejected_within_bounds(case, tmp_path):
    template, fragment = HOSTILE_TEXTS[case]
    canary = tmp_path / "canary"
    path = tmp_path / "spec.yaml"
    path.write_text(template.replace("{canary}", str(canary)), encoding="utf-8")

    result = run_bounded(lambda: load_file(path))

    _check_rejected(result, fragment)
    assert result.error.file == str(path)
    assert not canary.exists()


@pytest.mark.parametrize("case", sorted(HOSTILE_JSON))
def test_hostile_json_rejected_within_bounds(case, tmp_path):
    # Tabs make the text invalid YAML, so these go through the strict JSON reader.
    text, fragment = HOSTILE_JSON[case]
    path = tmp_path / "spec.json"
    path.write_text(text)

    result = run_bounded(lambda: load_file(path))

    _check_rejected(result, fragment)
    assert result.error.file == str(path)


def test_non_utf8_bytes_rejected_with_offset(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"name: caf\xe9\n")

    result = run_bounded(lambda: load_file(path))

    _check_rejected(result, "not valid UTF-8")
    assert "offset 9" in result.error.message


def test_oversized_file_rejected_before_reading(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("x: 1\n" * 10_000)

    result = run_bounded(lambda: load_file(path, limits=LoadLimits(max_bytes=1000)))

    _check_rejected(result, "more than the limit")
    assert "at most 1000 bytes" in str(result.error)


def test_too_many_yaml_nodes_rejected(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("x: [" + ", ".join(["1"] * 5000) + "]")

    result = run_bounded(lambda: load_file(path, limits=LoadLimits(max_nodes=1000)))

    _check_rejected(result, "more than 1000 YAML nodes")


def test_device_file_rejected_without_reading():
    # /dev/zero never ends: reading it would hang and exhaust memory.
    result = run_bounded(lambda: cvgraph.load_spec("/dev/zero"))

    _check_rejected(result, "not a regular file")


def test_folder_rejected(tmp_path):
    result = run_bounded(lambda: cvgraph.load_spec(tmp_path / "specs.yaml") if False else load_file(tmp_path))

    _check_rejected(result, "folder")


def test_hostile_yaml_rejected_through_load_spec(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(BILLION_LAUGHS)

    with pytest.raises(cvgraph.SpecError, match="alias") as caught:
        cvgraph.load_spec(path)

    assert caught.value.file == str(path)
    assert caught.value.line == 2


def test_valid_json_spec_still_loads(tmp_path):
    path = tmp_path / "model.json"
    spec = {"name": "tiny", "inputs": {"image": {"channels": 3}}, "nodes": {"relu": {"block": "relu"}}}
    path.write_text(json.dumps(spec))

    loaded = cvgraph.load_spec(path)

    assert [node.path for node in loaded.nodes] == ["relu"]


@fuzz_settings(max_examples=200)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_random_text_loads_or_raises_spec_error(data):
    result = run_bounded(lambda: load_text(data))

    assert result.seconds < MAX_SECONDS


YAML_PIECES = st.sampled_from(
    ["!!int ", "!!float ", "!!bool ", "!!str ", "!!map ", "!!seq ", "!!null ", "&a ", "*a ", "? ", "- ", ": ",
     "[", "]", "{", "}", ",", "\n", "  ", "x", "1", "0x1F", "1e5", ".nan", "'", '"', "#", "|", ">", "---", "..."]
)


@fuzz_settings(max_examples=200)
@given(st.lists(YAML_PIECES, max_size=40).map("".join))
def test_yaml_fragments_load_or_raise_spec_error(text):
    # Built from YAML syntax pieces, so the text reaches the tag and structure code paths.
    result = run_bounded(lambda: load_text(text))

    assert result.seconds < MAX_SECONDS


@pytest.mark.slow
def test_default_node_limit_bounds_a_huge_flat_list(tmp_path):
    # 300,000 list items fit in the default 4 MiB, but the default node limit stops
    # the parser after 100,000 (several seconds of PyYAML). test_too_many_yaml_nodes_rejected
    # is the fast variant with a small limit.
    path = tmp_path / "spec.yaml"
    path.write_text("x: [" + ",".join(["1"] * 300_000) + "]")

    result = run_bounded(lambda: load_file(path))

    assert result.error is not None
    assert "YAML nodes" in result.error.message
    assert result.seconds < 4 * MAX_SECONDS
