"""The ``energy-nb`` command line.

Every module in this package that defines ``register(subparsers)`` contributes subcommands, so a
feature adds its commands without touching this file.

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
from energy_nb.data.store import StoreError


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every command module's subcommands.

    Returns:
        The argument parser.
    """
    parser = argparse.ArgumentParser(
        prog="energy-nb",
        description="Forecast, compare, backtest and stream energy prices (WTI, BRENT, NG).",
    )
    parser.add_argument("--version", action="version", version=f"energy-nb {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The process exit code: 0 on success, 2 on a usage or input error, 1 on any other failure.
    """
    parser = build_parser()
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
