"""The ``energy-nb`` command line.

Every module in this package that defines ``register(subparsers)`` contributes subcommands, so a
feature adds its commands without touching this file. A command named like its module (``app``,
``serve``, ``data``, ...) imports only that module: ``energy-nb app`` stays a small process that
starts and watches the servers (it does not load pandas or SQLAlchemy, about 75 MiB).

Usage::

    energy-nb data status --json
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from energy_nb import __version__
from energy_nb.cli._common import CliError, store_error_text
from energy_nb.data.errors import StoreError


def command_modules() -> list[str]:
    """Names of the modules that may contribute commands (found without importing them).

    Returns:
        Sorted module names, e.g. ``["app", "backtest", ...]``.
    """
    return sorted(info.name for info in pkgutil.iter_modules(__path__)
                  if not info.name.startswith("_"))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser with every command module's subcommands.

    Args:
        only: register the commands of this module only (see :func:`parser_for`).

    Returns:
        The argument parser.
    """
    return _build(only)[0]


def parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser for ``argv``: its command's own module only, when the command is named like
    the module that defines it; else every command (help, errors and unknown commands list them
    all).

    Args:
        argv: arguments without the program name.

    Returns:
        The argument parser.
    """
    if argv and argv[0] in command_modules():
        parser, commands = _build(argv[0])
        if argv[0] in commands:
            return parser
    return build_parser()


def _build(only: str | None) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="energy-nb",
        description="Forecast, compare, backtest and stream energy prices (WTI, BRENT, NG).",
    )
    parser.add_argument("--version", action="version", version=f"energy-nb {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in command_modules():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser, subparsers.choices


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The process exit code: 0 on success, 2 on a usage or input error, 1 on any other failure.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = parser_for(argv)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except CliError as exc:
        print(f"energy-nb: error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:  # e.g. a page found damaged while a command was reading it
        print(f"energy-nb: error: {store_error_text(exc, getattr(args, 'db', None))}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("energy-nb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
