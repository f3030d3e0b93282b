"""Contract checks on what a plugin registers, run once at registration.

Each check raises :class:`PluginError` naming the plugin's distribution, the
class and the rule it breaks, so a broken plugin is rejected before any spec
uses it (the way pluggy verifies a hook implementation when it registers).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

from .block import Block, BlockArgs
from .errors import PluginError
from .loss import Loss

__all__ = ["PluginSource", "NAME_PATTERN", "NAMESPACE_PATTERN", "COMMAND_PATTERN", "check_block", "check_loss", "check_command"]

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""Block and loss names: an identifier, so that ``namespace:name`` and ``node.port`` stay unambiguous."""

NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
"""Plugin namespaces (entry-point names): letters, digits, '_' and '-'."""

COMMAND_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
"""CLI command names: lowercase words joined by '-'."""


@dataclass(frozen=True)
class PluginSource:
    """The origin of a registration: the plugin's namespace and its distribution."""

    namespace: str
    distribution: str
    version: str = ""

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}".strip()


def _overrides_classmethod(cls: type, method: str, base: type) -> bool:
    """Return True when ``cls`` defines ``method`` as a classmethod other than ``base``'s."""
    static = inspect.getattr_static(cls, method, None)
    if not isinstance(static, classmethod):
        return False
    return static.__func__ is not inspect.getattr_static(base, method).__func__


def _check_name(cls: type, kind: str, source: PluginSource) -> None:
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise PluginError(
            f"plugin '{source}' registered {kind} class {cls.__name__} with an invalid name {name!r}",
            expected="an identifier: letters, digits and '_', not starting with a digit",
            found=repr(name),
            hint=f"set {cls.__name__}.name, such as 'se_block'",
            distribution=source.distribution,
        )
    if not isinstance(getattr(cls, "description", None), str):
        raise PluginError(
            f"plugin '{source}' {kind} '{name}': 'description' must be a string",
            found=repr(getattr(cls, "description", None)),
            distribution=source.distribution,
        )


def _check_args(cls: type, kind: str, source: PluginSource) -> None:
    """Check that ``cls.Args`` is a strict BlockArgs model with a JSON Schema."""
    args = getattr(cls, "Args", None)
    if not (isinstance(args, type) and issubclass(args, BlockArgs)):
        raise PluginError(
            f"plugin '{source}' {kind} '{cls.name}': Args must be a subclass of cvgraph.BlockArgs",
            found=repr(args),
            hint="declare 'class Args(cvgraph.BlockArgs): ...' with one typed field per argument",
            distribution=source.distribution,
        )
    if args.model_config.get("extra") != "forbid":
        raise PluginError(
            f"plugin '{source}' {kind} '{cls.name}': Args must reject unknown arguments",
            expected="model_config extra='forbid' (inherited from cvgraph.BlockArgs)",
            found=f"extra={args.model_config.get('extra')!r}",
            hint="do not override 'extra' in Args.model_config, so that a misspelled argument is an error",
            distribution=source.distribution,
        )
    try:
        args.model_json_schema()
    except Exception as error:  # noqa: BLE001 - pydantic raises several types for unsupported fields
        raise PluginError(
            f"plugin '{source}' {kind} '{cls.name}': Args has no JSON Schema: {type(error).__name__}: {error}",
            hint="use field types that pydantic can describe (int, float, bool, str, Literal, lists of these)",
            distribution=source.distribution,
        ) from None


def _check_arity(cls: type[Block], source: PluginSource) -> None:
    arity = cls.arity
    valid = (
        isinstance(arity, tuple)
        and len(arity) == 2
        and isinstance(arity[0], int)
        and arity[0] >= 0
        and (arity[1] is None or (isinstance(arity[1], int) and arity[1] >= arity[0]))
    )
    if not valid:
        raise PluginError(
            f"plugin '{source}' block '{cls.name}': invalid arity {arity!r}",
            expected="(minimum, maximum) inputs, maximum >= minimum or None for no maximum",
            found=repr(arity),
            distribution=source.distribution,
        )


def _check_outputs(cls: type[Block], source: PluginSource) -> None:
    outputs = cls.outputs
    if outputs is None:
        return
    names = list(outputs) if isinstance(outputs, tuple) else []
    if not names or len(set(names)) != len(names) or not all(isinstance(n, str) and NAME_PATTERN.match(n) for n in names):
        raise PluginError(
            f"plugin '{source}' block '{cls.name}': invalid outputs {outputs!r}",
            expected="None, or a tuple of distinct identifiers such as ('boxes', 'scores')",
            found=repr(outputs),
            distribution=source.distribution,
        )


def check_block(cls: Any, *, head: bool, source: PluginSource) -> None:
    """Check a class returned by ``cvgraph_blocks`` or ``cvgraph_heads``.

    Raises:
        PluginError: when the class breaks the block contract.
    """
    kind = "head" if head else "block"
    if not (isinstance(cls, type) and issubclass(cls, Block)):
        raise PluginError(
            f"plugin '{source}' registered {cls!r} as a {kind}, but it is not a subclass of cvgraph.Block",
            distribution=source.distribution,
        )
    _check_name(cls, kind, source)
    _check_args(cls, kind, source)
    for method, what in (("infer", "shape function"), ("build", "builder")):
        if not _overrides_classmethod(cls, method, Block):
            raise PluginError(
                f"plugin '{source}' {kind} '{cls.name}' has no {what}",
                expected=f"a classmethod {cls.__name__}.{method} that overrides cvgraph.Block.{method}",
                hint=f"define '@classmethod def {method}(cls, inputs, args{', ctx' if method == 'build' else ''})'",
                distribution=source.distribution,
            )
    _check_arity(cls, source)
    _check_outputs(cls, source)
    if head and cls.head is not True:
        raise PluginError(
            f"plugin '{source}' returned block '{cls.name}' from cvgraph_heads, but it does not set head = True",
            hint=f"set 'head = True' on {cls.__name__}, or return it from cvgraph_blocks",
            distribution=source.distribution,
        )


def check_loss(cls: Any, *, source: PluginSource) -> None:
    """Check a class returned by ``cvgraph_losses``.

    Raises:
        PluginError: when the class breaks the loss contract.
    """
    if not (isinstance(cls, type) and issubclass(cls, Loss)):
        raise PluginError(
            f"plugin '{source}' registered {cls!r} as a loss, but it is not a subclass of cvgraph.Loss",
            distribution=source.distribution,
        )
    _check_name(cls, "loss", source)
    _check_args(cls, "loss", source)
    if not _overrides_classmethod(cls, "build", Loss):
        raise PluginError(
            f"plugin '{source}' loss '{cls.name}' has no builder",
            expected=f"a classmethod {cls.__name__}.build(cls, args) returning an nn.Module",
            distribution=source.distribution,
        )


def check_command(command: Any, *, source: PluginSource) -> None:
    """Check an object returned by ``cvgraph_cli_commands``.

    Raises:
        PluginError: when it lacks a valid name, help text, ``add_arguments`` or ``run``.
    """
    name = getattr(command, "name", None)
    if not isinstance(name, str) or not COMMAND_PATTERN.match(name):
        raise PluginError(
            f"plugin '{source}' registered a CLI command with an invalid name {name!r}",
            expected="lowercase letters, digits and '-', such as 'export-onnx'",
            distribution=source.distribution,
        )
    if not isinstance(getattr(command, "help", None), str):
        raise PluginError(f"plugin '{source}' CLI command '{name}': 'help' must be a string", distribution=source.distribution)
    for attribute in ("add_arguments", "run"):
        if not callable(getattr(command, attribute, None)):
            raise PluginError(
                f"plugin '{source}' CLI command '{name}' has no callable '{attribute}'",
                hint="return cvgraph.cli.Command(name, help, add_arguments, run) objects",
                distribution=source.distribution,
            )
