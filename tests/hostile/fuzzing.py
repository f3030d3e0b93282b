"""Spec generators and the oracle shared by the spec fuzzer and the long campaign.

The oracle states the contract for untrusted specs: a spec either builds a
model whose real output shapes equal the inferred ones, or raises a
:class:`cvgraph.SpecError` that names a file or a node. Any other exception
is a bug.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import cvgraph
from cvgraph import specs as zoo_specs

CI_EXAMPLES = int(os.environ.get("CVGRAPH_FUZZ_EXAMPLES", "40"))
"""Examples per fuzz test in the default test run; the campaign sets many more."""


def fuzz_settings(max_examples: int = CI_EXAMPLES) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )


# Random graphs ------------------------------------------------------------

PLAIN_NAMES = [f"n{i}" for i in range(12)]
# Names that collide with Python keywords, builtins and torch.nn.Module attributes.
TRICKY_NAMES = ["training", "forward", "def", "self", "0", "x", "input", "torch", "getattr", "graph", "None", "_modules"]

small = st.integers(min_value=1, max_value=4)
pair = st.one_of(small, st.lists(small, min_size=2, max_size=2))
# Mostly valid values, sometimes out of range or of the wrong type.
bad_value = st.sampled_from([0, -1, 1.5, "3", None, True, [1, 2, 3], {"a": 1}, 2**40])


def _maybe_bad(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, valid, valid, valid, valid, valid, valid, valid, bad_value)


def _args(block: str) -> st.SearchStrategy[dict[str, Any]]:
    conv = {
        "out_channels": _maybe_bad(st.integers(1, 12)),
        "kernel_size": _maybe_bad(pair),
        "stride": _maybe_bad(pair),
        "padding": _maybe_bad(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=2, max_size=2))),
        "dilation": _maybe_bad(st.integers(1, 3)),
        "groups": _maybe_bad(st.sampled_from([1, 1, 1, 2, 3, 4])),
        "bias": st.booleans(),
        "padding_mode": st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    }
    join = {
        "align": _maybe_bad(st.sampled_from(["none", "pad", "crop", "resize"])),
        "resize_mode": st.sampled_from(["nearest", "bilinear"]),
    }
    pool = {
        "kernel_size": _maybe_bad(pair),
        "stride": _maybe_bad(st.one_of(st.none(), pair)),
        "padding": _maybe_bad(st.integers(0, 2)),
        "ceil_mode": st.booleans(),
    }
    table: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "conv2d": conv,
        "conv_transpose2d": {
            "out_channels": _maybe_bad(st.integers(1, 12)),
            "kernel_size": _maybe_bad(pair),
            "stride": _maybe_bad(st.integers(1, 3)),
            "padding": _maybe_bad(st.integers(0, 2)),
            "output_padding": _maybe_bad(st.integers(0, 1)),
            "groups": st.sampled_from([1, 1, 2]),
        },
        "batchnorm2d": {"affine": st.booleans(), "eps": _maybe_bad(st.floats(1e-6, 1e-2))},
        "groupnorm": {"num_groups": _maybe_bad(st.sampled_from([1, 2, 3, 4]))},
        "maxpool2d": {**pool, "dilation": _maybe_bad(st.integers(1, 2))},
        "avgpool2d": {**pool, "count_include_pad": st.booleans()},
        "adaptive_avgpool2d": {"output_size": _maybe_bad(pair)},
        "linear": {"out_features": _maybe_bad(st.integers(1, 12)), "bias": st.booleans()},
        "leaky_relu": {"negative_slope": st.floats(0, 0.5)},
        "prelu": {"per_channel": st.booleans()},
        "dropout": {"p": _maybe_bad(st.floats(0, 1))},
        "concat": {"dim": _maybe_bad(st.just(1)), **join},
        "add": join,
        "weighted_fusion": {**join, "epsilon": _maybe_bad(st.floats(1e-6, 1e-2))},
        "upsample": {
            "scale_factor": _maybe_bad(st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=2, max_size=2))),
            "mode": st.sampled_from(["nearest", "bilinear"]),
            "align_corners": st.booleans(),
        },
        "center_crop": {"symmetric": st.booleans()},
    }
    fields = table.get(block, {})
    required = {"conv2d": ["out_channels", "kernel_size"], "conv_transpose2d": ["out_channels", "kernel_size"],
                "maxpool2d": ["kernel_size"], "avgpool2d": ["kernel_size"], "linear": ["out_features"],
                "groupnorm": ["num_groups"]}.get(block, [])
    optional = [name for name in fields if name not in required]
    return st.builds(
        lambda chosen, values: {k: v for k, v in values.items() if k in required or k in chosen},
        st.sets(st.sampled_from(optional)) if optional else st.just(set()),
        st.fixed_dictionaries(fields),
    )


SINGLE_INPUT = [
    "conv2d", "conv2d", "conv2d", "batchnorm2d", "relu", "relu", "maxpool2d", "avgpool2d", "adaptive_avgpool2d",
    "flatten", "linear", "global_avgpool", "conv_transpose2d", "groupnorm", "leaky_relu", "prelu", "sigmoid",
    "dropout", "identity", "relu6", "silu", "tanh", "upsample",
]
JOINS = ["add", "concat", "weighted_fusion", "center_crop", "upsample"]


@st.composite
def graph_specs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """Draw a spec dict of chains and joins of built-in blocks, and an input size ``NxCxHxW``."""
    channels = draw(st.integers(1, 6))
    height = draw(st.integers(1, 20))
    width = draw(st.integers(1, 20))
    batch = draw(st.integers(1, 2))
    fixed = draw(st.booleans())
    image: dict[str, Any] = {"channels": channels}
    if fixed:
        image.update(height=height, width=width)

    count = draw(st.integers(1, 8))
    tricky = draw(st.integers(0, 19)) == 0
    pool = PLAIN_NAMES + (TRICKY_NAMES if tricky else [])
    names = draw(st.lists(st.sampled_from(pool), min_size=count, max_size=count, unique=True))

    nodes: dict[str, Any] = {}
    for index, name in enumerate(names):
        earlier = ["image", *names[:index]]
        block = draw(st.sampled_from(JOINS)) if index and draw(st.integers(0, 3)) == 0 else draw(st.sampled_from(SINGLE_INPUT))
        node: dict[str, Any] = {"block": block}
        args = draw(_args(block))
        if args:
            node["args"] = args
        if block in JOINS and (block != "upsample" or "scale_factor" not in args):
            node["from"] = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=3))
        elif draw(st.integers(0, 3)) == 0:
            node["from"] = draw(st.sampled_from(earlier))
        if draw(st.integers(0, 9)) == 0:
            node["repeat"] = draw(st.integers(0, 3))
        nodes[name] = node

    spec: dict[str, Any] = {"name": "fuzzed", "inputs": {"image": image}, "nodes": nodes}
    if draw(st.integers(0, 4)) == 0:
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        spec["outputs"] = {f"out_{name}": name for name in chosen}
    return spec, f"{batch}x{channels}x{height}x{width}"


# Mutations of the zoo -----------------------------------------------------

ZOO_BASES = ["resnet18", "resnet34", "resnet50", "plain18"]
WRONG_VALUES = [None, "x", -1, 0, 1.5, [], {}, True, "${undefined}", "${1/0}", "torch.nn.Conv2d", "os.system", [1, [2]]]


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(tree, dict):
        for key, value in tree.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        tree = tree[key]
    return tree


def _node_tables(tree: dict[str, Any]) -> list[dict[str, Any]]:
    tables = [tree["nodes"]] if isinstance(tree.get("nodes"), dict) else []
    defines = tree.get("define")
    for define in defines.values() if isinstance(defines, dict) else []:
        if isinstance(define, dict) and isinstance(define.get("nodes"), dict):
            tables.append(define["nodes"])
    return tables


@st.composite
def mutated_zoo_specs(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """Draw a zoo spec (or its block library) with one to three mutations.

    Returns:
        The file name to write, the mutated tree, and an input size.
    """
    base = draw(st.sampled_from(ZOO_BASES + ["_resnet_blocks"]))
    folder = Path(zoo_specs.__file__).parent
    tree = yaml.safe_load((folder / f"{base}.yaml").read_text())
    for _ in range(draw(st.integers(1, 3))):
        _mutate(draw, tree)
    size = draw(st.sampled_from([32, 40, 64]))
    return f"{base}.yaml" if base.startswith("_") else "mutated.yaml", tree, f"1x3x{size}x{size}"


def _mutate(draw: st.DrawFn, tree: dict[str, Any]) -> None:
    kind = draw(st.sampled_from(["delete", "wrong_type", "rename_ref", "cycle", "swap", "block", "duplicate"]))
    paths = _paths(tree)
    tables = _node_tables(tree)
    if not paths:
        return
    if kind in ("delete", "wrong_type") or not tables:
        path = draw(st.sampled_from(paths))
        parent = _parent(tree, path)
        if kind == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(WRONG_VALUES)))
        return
    table = draw(st.sampled_from(tables))
    names = list(table)
    name = draw(st.sampled_from(names))
    node = table[name]
    if not isinstance(node, dict):
        return
    if kind == "rename_ref":
        node["from"] = draw(st.sampled_from([*names, "missing", "image", "x", f"{name}.port", "layer1.out"]))
    elif kind == "cycle":
        later = names[names.index(name):]
        node["from"] = draw(st.sampled_from(later))
    elif kind == "swap":
        if isinstance(node.get("from"), list):
            node["from"] = list(reversed(node["from"]))
        else:
            node["from"] = [draw(st.sampled_from(names)), name]
    elif kind == "block":
        node["block"] = draw(st.sampled_from(["conv2d", "relu", "add", "linear", "flatten", "bottleneck",
                                              "basic_block", "torch.nn.Conv2d", "os.system", "__import__"]))
    else:
        table[f"{name}_copy"] = copy.deepcopy(node)


# The oracle ---------------------------------------------------------------


@dataclass
class Outcome:
    """What one spec did: ``built`` (and checked) or ``rejected`` with the error."""

    kind: str
    error: cvgraph.SpecError | None = None


def _check_located(error: cvgraph.SpecError) -> None:
    assert error.file or error.node, f"SpecError without a file or a node: {error}"
    assert error.message, "SpecError without a message"


def check_spec_file(path: Path, input_size: str) -> Outcome:
    """Build the spec at ``path``; check real shapes against inferred ones, or the error's location.

    Raises:
        AssertionError: when the contract is broken (any exception other than
            a located SpecError is re-raised as is).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            spec = cvgraph.load_spec(path)
            first_input = next(iter(spec.inputs))
            model = cvgraph.build(spec, input_shapes={first_input: input_size})
        except cvgraph.SpecError as error:
            _check_located(error)
            return Outcome("rejected", error)
    _check_forward(model, spec, input_size)
    return Outcome("built")


def _check_forward(model: torch.nn.Module, spec: cvgraph.Spec, input_size: str) -> None:
    report = model.cvgraph.shapes
    batch = int(input_size.split("x")[0])
    real: dict[str, tuple[int, ...]] = {}
    handles = []
    for path in report.graph.order:
        module = model.get_submodule(path)
        handles.append(module.register_forward_hook(lambda _m, _i, out, path=path: real.__setitem__(path, tuple(out.shape))))
    try:
        inputs = [torch.randn(batch, *report.inputs[name].torch_size()) for name in spec.inputs]
        with torch.no_grad():
            model.eval()(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    for path in report.graph.order:
        inferred = (batch, *report.nodes[path].torch_size())
        assert real[path] == inferred, f"node '{path}': real output {real[path]} != inferred {inferred}"


def check_spec_tree(tree: Any, input_size: str, file_name: str = "fuzzed.yaml") -> Outcome:
    """Write ``tree`` as YAML next to a copy of the zoo, then check it like a file from a user."""
    with tempfile.TemporaryDirectory(prefix="cvgraph-fuzz-") as folder:
        zoo = Path(zoo_specs.__file__).parent
        for source in zoo.glob("*.yaml"):
            shutil.copy(source, folder)
        path = Path(folder) / file_name
        path.write_text(yaml.safe_dump(tree, sort_keys=False))
        if file_name.startswith("_"):
            # A mutated library: build a spec that includes it.
            path = Path(folder) / "resnet50.yaml"
        return check_spec_file(path, input_size)
