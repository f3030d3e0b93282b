"""Broken plugin distributions found through real entry points, from Python and from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_helpers import FakeDistribution, install_fake, run_cli

import cvgraph
from cvgraph import PluginError, PluginWarning
from cvgraph.cli import main
from cvgraph.registry import default_registry

_BLOCK_SOURCE = """
    from typing import Any, Sequence

    from torch import nn

    import cvgraph
    from cvgraph.block import expect_feature_map


    @cvgraph.hookimpl
    def cvgraph_plugin_api_version():
        return 1
"""

IMPORT_FAILS = FakeDistribution(
    name="cvgraph-needs-missing",
    module="cvgraph_needs_missing",
    source="import a_module_that_is_not_installed\n",
    entry_points={"needsmissing": "cvgraph_needs_missing"},
)

NO_SHAPE_FUNCTION = FakeDistribution(
    name="cvgraph-no-shape",
    module="cvgraph_no_shape",
    source=_BLOCK_SOURCE
    + """
    class Gate(cvgraph.Block):
        name = "gate"
        description = "A block without a shape function."

        @classmethod
        def build(cls, inputs, args, ctx):
            return nn.Identity()


    @cvgraph.hookimpl
    def cvgraph_blocks():
        return [Gate]
    """,
    entry_points={"noshape": "cvgraph_no_shape"},
)

BAD_ARGS = FakeDistribution(
    name="cvgraph-bad-args",
    module="cvgraph_bad_args",
    source=_BLOCK_SOURCE
    + """
    class Gate(cvgraph.Block):
        name = "gate"
        description = "A block whose Args is a plain class."

        class Args:
            width = 3

        @classmethod
        def infer(cls, inputs, args):
            return expect_feature_map(inputs[0])

        @classmethod
        def build(cls, inputs, args, ctx):
            return nn.Identity()


    @cvgraph.hookimpl
    def cvgraph_blocks():
        return [Gate]
    """,
    entry_points={"badargs": "cvgraph_bad_args"},
)

TAKES_ATTENTION_NAMESPACE = FakeDistribution(
    name="cvgraph-attention-clone",
    module="cvgraph_attention_clone",
    source=_BLOCK_SOURCE,
    entry_points={"attention": "cvgraph_attention_clone"},
)

WITH_COMMANDS = FakeDistribution(
    name="cvgraph-hello",
    module="cvgraph_hello",
    source=_BLOCK_SOURCE
    + """
    from cvgraph.cli import Command


    def _arguments(parser):
        parser.add_argument("--who", default="world")


    def _hello(args):
        print(f"hello {args.who}")
        return 0


    @cvgraph.hookimpl
    def cvgraph_cli_commands():
        return [
            Command("hello", "Print a greeting.", _arguments, _hello),
            Command("zoo", "A command whose name cvgraph already has.", _arguments, _hello),
        ]
    """,
    entry_points={"hello": "cvgraph_hello"},
)

BROKEN = [IMPORT_FAILS, NO_SHAPE_FUNCTION, BAD_ARGS, TAKES_ATTENTION_NAMESPACE]
EXPECTED_ERRORS = {
    "cvgraph-needs-missing": "failed to import: ModuleNotFoundError: No module named 'a_module_that_is_not_installed'",
    "cvgraph-no-shape": "block 'gate' has no shape function",
    "cvgraph-bad-args": "Args must be a subclass of cvgraph.BlockArgs",
    "cvgraph-attention-clone": "plugin namespace 'attention' is registered twice: by 'cvgraph-attention 0.1.0'",
}


@pytest.fixture
def broken_site(site_folder: Path, attention_plugin) -> Path:
    install_fake(site_folder, *BROKEN)
    return site_folder


def test_broken_distributions_reported_by_name(broken_site):
    with pytest.warns(PluginWarning) as caught:
        registry = cvgraph.new_registry()

    errors = {info.distribution: info.error for info in registry.plugins if info.error}
    assert set(errors) == set(EXPECTED_ERRORS)
    for distribution, message in EXPECTED_ERRORS.items():
        assert message in errors[distribution]
        assert any(distribution in str(w.message) and "skipped" in str(w.message) for w in caught)


def test_builtins_and_good_plugin_keep_working(broken_site):
    with pytest.warns(PluginWarning):
        registry = cvgraph.new_registry()

    assert registry.block("se").__module__ == "cvgraph_attention.blocks"
    assert registry.block("conv2d").name == "conv2d"
    spec = cvgraph.load_spec("se_resnet50", registry=registry, params={"layers": [1, 1, 1, 1]})
    assert spec.blocks["layer1.0.se"].name == "se"


@pytest.mark.parametrize("distribution", BROKEN, ids=[d.name for d in BROKEN])
def test_broken_distribution_strict_raises(site_folder, attention_plugin, distribution):
    install_fake(site_folder, distribution)

    with pytest.raises(PluginError) as caught:
        cvgraph.new_registry(strict=True)

    assert caught.value.distribution == distribution.name
    assert EXPECTED_ERRORS[distribution.name] in caught.value.message


def test_strict_env_var_makes_default_registry_strict(site_folder, monkeypatch):
    install_fake(site_folder, NO_SHAPE_FUNCTION)
    monkeypatch.setenv("CVGRAPH_STRICT_PLUGINS", "1")

    with pytest.raises(PluginError, match="cvgraph-no-shape"):
        default_registry()


def test_default_registry_warns_without_env_var(site_folder, monkeypatch):
    install_fake(site_folder, NO_SHAPE_FUNCTION)
    monkeypatch.delenv("CVGRAPH_STRICT_PLUGINS", raising=False)

    with pytest.warns(PluginWarning, match="cvgraph-no-shape"):
        registry = default_registry()
    assert registry.strict is False


def test_cli_plugins_lists_broken_plugins(broken_site, tmp_path):
    """Run the real ``cvgraph`` script, with the broken distributions on PYTHONPATH."""
    result = run_cli("plugins", pythonpath=broken_site, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "cvgraph-attention 0.1.0 (namespace 'attention')" in result.stdout
    for distribution, message in EXPECTED_ERRORS.items():
        assert f"{distribution} 0.1.0" in result.stdout
        assert message in result.stdout
        assert f"{distribution} 0.1.0" in result.stderr
    assert result.stdout.count("FAILED, skipped") == len(BROKEN)


def test_cli_strict_flag_fails_on_broken_plugin(site_folder, monkeypatch, capsys):
    install_fake(site_folder, BAD_ARGS)
    monkeypatch.delenv("CVGRAPH_STRICT_PLUGINS", raising=False)

    flag_status = main(["--strict-plugins", "zoo"])
    flag = capsys.readouterr()
    monkeypatch.setenv("CVGRAPH_STRICT_PLUGINS", "1")
    env_status = main(["zoo"])
    env = capsys.readouterr()

    for status, output in ((flag_status, flag), (env_status, env)):
        assert status == 1
        assert output.err.startswith("error: plugin 'cvgraph-bad-args 0.1.0'")
        assert "Args must be a subclass of cvgraph.BlockArgs" in output.err
        assert output.out == ""


def test_cli_validate_works_beside_broken_plugin(broken_site, monkeypatch, capsys):
    monkeypatch.delenv("CVGRAPH_STRICT_PLUGINS", raising=False)

    status = main(["validate", "resnet18", "--input", "1x3x64x64"])
    output = capsys.readouterr()

    assert status == 0, output.err
    assert "resnet18: valid" in output.out
    assert "warning: plugin 'cvgraph-no-shape 0.1.0' block 'gate' has no shape function" in output.err


def test_cli_plugin_command_runs(site_folder, monkeypatch, capsys):
    install_fake(site_folder, WITH_COMMANDS)
    monkeypatch.delenv("CVGRAPH_STRICT_PLUGINS", raising=False)

    hello_status = main(["hello", "--who", "plugins"])
    hello = capsys.readouterr()
    clash_status = main(["hello:zoo", "--who", "zoo"])
    clash = capsys.readouterr()
    strict_status = main(["--strict-plugins", "hello"])
    strict = capsys.readouterr()

    assert hello_status == 0
    assert hello.out == "hello plugins\n"
    assert "warning: plugin 'cvgraph-hello 0.1.0' adds the command 'zoo', which cvgraph already has" in hello.err
    assert clash_status == 0
    assert clash.out == "hello zoo\n"
    assert strict_status == 1
    assert "error: plugin 'cvgraph-hello 0.1.0' adds the command 'zoo'" in strict.err
