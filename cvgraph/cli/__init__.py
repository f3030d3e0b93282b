"""The ``cvgraph`` command line.

Each command is a :class:`Command` in ``COMMANDS`` (or from a plugin's
``cvgraph_cli_commands`` hook). A failing command prints one clear message
to stderr and exits non-zero; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import PluginError, SpecError
from ..registry import (
    STRICT_ENV_VAR,
    PluginWarning,
    default_registry,
    new_registry,
    set_default_registry,
    strict_from_environment,
)

__all__ = ["Command", "main", "COMMANDS"]


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, one line of help, its arguments and what it runs."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A failure that the CLI reports as one line, such as a missing image file."""


def _commands() -> list[Command]:
    from . import core, detection, plugins

    return [*core.COMMANDS, *detection.COMMANDS, *plugins.COMMANDS]


COMMANDS = _commands


def build_parser(commands: Sequence[Command], plugin_commands: Sequence[Any] = ()) -> argparse.ArgumentParser:
    """Build the parser of ``commands``, then of the plugins' commands (registry entries).

    A plugin command is reachable as ``namespace:name``, and by its short
    name while no core command and no other plugin's command has it.
    """
    parser = argparse.ArgumentParser(
        prog="cvgraph",
        description="Build, check and run convolutional networks written as graph specs.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    parser.add_argument(
        "--strict-plugins",
        action="store_true",
        help=f"fail on a broken plugin instead of warning and skipping it (also: {STRICT_ENV_VAR}=1)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for command in commands:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)

    core_names = {command.name for command in commands}
    for entry in plugin_commands:
        aliases = [entry.name] if _short_name_free(entry, core_names, plugin_commands) else []
        sub = subparsers.add_parser(entry.full_name, aliases=aliases, help=f"{entry.cls.help} [{entry.source}]")
        entry.cls.add_arguments(sub)
        sub.set_defaults(run=entry.cls.run)
    return parser


def _short_name_free(entry: Any, core_names: set[str], plugin_commands: Sequence[Any]) -> bool:
    """Return True when no core command and no other plugin command has ``entry``'s short name."""
    if entry.name in core_names:
        message = (
            f"plugin '{entry.source}' adds the command '{entry.name}', which cvgraph already has; "
            f"it is available only as '{entry.full_name}'"
        )
        if default_registry().strict:
            raise PluginError(message, distribution=entry.distribution)
        warnings.warn(message, PluginWarning, stacklevel=2)
        return False
    return sum(other.name == entry.name for other in plugin_commands) == 1


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 success, 1 failure, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    strict = "--strict-plugins" in argv or strict_from_environment()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        previous = set_default_registry(None) if strict else None
        try:
            return _run(argv, debug, strict)
        finally:
            if strict:
                set_default_registry(previous)


def _run(argv: list[str], debug: bool, strict: bool) -> int:
    try:
        if strict:
            set_default_registry(new_registry(strict=True))
        parser = build_parser(_commands(), default_registry().commands())
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return int(args.run(args) or 0)
    except SpecError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except CommandError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # noqa: BLE001 - the CLI never shows a traceback without --debug
        if debug:
            raise
        print(
            f"error: internal error: {type(error).__name__}: {error}\n"
            "  hint: run again with --debug for the traceback, and report it",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
