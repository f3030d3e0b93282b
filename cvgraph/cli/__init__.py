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
from typing import Callable, Sequence

from ..errors import SpecError

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
    from . import core, detection

    return [*core.COMMANDS, *detection.COMMANDS]


COMMANDS = _commands


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cvgraph",
        description="Build, check and run convolutional networks written as graph specs.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for command in commands:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 success, 1 failure, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser(_commands())
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        warnings.simplefilter("default")
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
