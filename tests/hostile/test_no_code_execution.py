"""Specs never run code: unknown names are rejected and canary files are never created."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cvgraph
import cvgraph.blocks
from cvgraph.pipeline import parse_override

DOTTED_AND_BUILTIN_NAMES = [
    "torch.nn.Conv2d",
    "os.system",
    "subprocess.Popen",
    "__import__",
    "eval",
    "exec",
    "builtins.open",
    "cvgraph.blocks.conv.Conv2d",
    "torch:nn.Conv2d",
    "os:system",
    "Conv2d",
]


def _spec(block="relu", args=None, **extra):
    node = {"block": block, **({"args": args} if args is not None else {})}
    return {"name": "t", "inputs": {"image": {"channels": 3, "height": 8, "width": 8}}, "nodes": {"n": node}, **extra}


@pytest.mark.parametrize("name", DOTTED_AND_BUILTIN_NAMES)
def test_block_name_rejected_as_unknown(name):
    with pytest.raises(cvgraph.SpecError, match=f"unknown block '{name}'") as caught:
        cvgraph.build(_spec(name))

    assert caught.value.node == "n"


@pytest.mark.parametrize("name", ["os.system", "__import__"])
def test_block_name_from_expression_rejected_as_unknown(name):
    with pytest.raises(cvgraph.SpecError, match=f"unknown block '{name}'"):
        cvgraph.build(_spec(f"${{'{name}'}}"))


def _canary_expressions(canary: Path) -> list[str]:
    quoted = repr(str(canary))
    return [
        f"__import__('os').system('touch ' + {quoted})",
        f"open({quoted}, 'w')",
        f"eval(\"open({quoted}, 'w')\")",
        f"exec(\"open({quoted}, 'w')\")",
        f"(lambda: open({quoted}, 'w'))()",
        f"[open({quoted}, 'w') for _ in [1]]",
        f"().__class__.__base__.__subclasses__()",
        f"getattr(__builtins__, 'open')({quoted}, 'w')",
        f"globals()['__builtins__']",
        f"compile('1', 'x', 'eval')",
        f"breakpoint()",
        f"(1).real.__class__",
        f"f'{{open({quoted}, \"w\")}}'",
    ]


@pytest.mark.parametrize("index", range(13))
@pytest.mark.parametrize("where", ["arg", "param", "repeat", "when", "block"])
def test_expression_canary_never_runs(tmp_path, index, where):
    canary = tmp_path / "canary"
    expression = "${" + _canary_expressions(canary)[index] + "}"
    spec = {
        "arg": _spec("conv2d", {"out_channels": expression, "kernel_size": 1}),
        "param": {**_spec("relu"), "params": {"p": expression}},
        "repeat": {**_spec("relu"), "nodes": {"n": {"block": "relu", "repeat": expression}}},
        "when": {**_spec("relu"), "nodes": {"n": {"block": "relu", "when": expression}}},
        "block": _spec(expression),
    }[where]

    with pytest.raises(cvgraph.SpecError) as caught:
        cvgraph.build(spec)

    assert "cannot evaluate" in caught.value.message
    assert any(word in caught.value.message for word in ("not allowed", "unknown name", "invalid expression", "unclosed or nested"))
    assert not canary.exists()


def test_yaml_tag_canary_never_runs_through_load_spec(tmp_path):
    canary = tmp_path / "canary"
    path = tmp_path / "evil.yaml"
    path.write_text(
        "name: evil\n"
        "inputs: {image: {channels: 3}}\n"
        f'params: {{p: !!python/object/apply:os.system ["touch {canary}"]}}\n'
        "nodes: {n: {block: relu}}\n"
    )

    with pytest.raises(cvgraph.SpecError, match="YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'") as caught:
        cvgraph.build(path)

    assert caught.value.line == 3
    assert not canary.exists()


def test_override_with_yaml_tag_never_runs(tmp_path):
    canary = tmp_path / "canary"

    with pytest.raises(cvgraph.SpecError, match="YAML tag"):
        parse_override(f'params.width=!!python/object/apply:os.system ["touch {canary}"]')

    assert not canary.exists()


def test_include_of_python_file_rejected(tmp_path):
    (tmp_path / "evil.py").write_text(f"open({str(tmp_path / 'canary')!r}, 'w')\n")
    path = tmp_path / "model.yaml"
    path.write_text("name: m\ninclude: [evil.py]\ninputs: {image: {channels: 3}}\nnodes: {n: {block: relu}}\n")

    with pytest.raises(cvgraph.SpecError, match="no spec file and no zoo spec named 'evil.py'") as caught:
        cvgraph.build(path)

    assert caught.value.line == 2
    assert not (tmp_path / "canary").exists()


def test_unknown_sub_graph_parameter_not_evaluated(tmp_path):
    spec = {
        **_spec("inner"),
        "define": {"inner": {"params": {"k": 1}, "nodes": {"r": {"block": "relu"}}}},
    }
    spec["nodes"]["n"]["args"] = {"__class__": 1}

    with pytest.raises(cvgraph.SpecError, match="has no parameter '__class__'"):
        cvgraph.build(spec)


# A static guard: the core never hands text to the interpreter or the importer.

_FORBIDDEN_NAMES = {"eval", "exec", "compile", "__import__", "breakpoint"}
_FORBIDDEN_ATTRIBUTES = {"import_module", "locate", "system", "popen", "loads"}


def _forbidden_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in _FORBIDDEN_NAMES:
            found.append(f"{path.name}:{node.lineno} {func.id}()")
        elif isinstance(func, ast.Attribute) and func.attr in _FORBIDDEN_ATTRIBUTES:
            owner = ast.unparse(func.value)
            if not (func.attr == "loads" and owner == "json"):
                found.append(f"{path.name}:{node.lineno} {owner}.{func.attr}()")
    return found


def test_core_has_no_eval_exec_or_dynamic_import():
    package = Path(cvgraph.__file__).parent
    sources = sorted(package.rglob("*.py")) + sorted(Path(cvgraph.blocks.__file__).parent.glob("*.py"))

    found = [call for path in sources for call in _forbidden_calls(path)]

    assert len(sources) > 20
    assert found == []
