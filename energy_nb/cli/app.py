"""``energy-nb app``: serve the dashboards with Voilà.

Usage::

    energy-nb app [--port 8866] [--no-browser] [--notebooks DIR] [--no-preheat]
                  [--no-live | --live-port 8000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from energy_nb.cli._common import CliError, add_json_flag


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``app`` command.

    Args:
        subparsers: the top-level subparsers.
    """
    parser = subparsers.add_parser(
        "app", help="serve the dashboards with Voila",
        description="Launch Voila on the project's notebooks with the packaged configuration "
                    "(preheated kernels, tracebacks hidden) and, unless --no-live, the live "
                    "forecast server; print the URLs.",
    )
    parser.add_argument("--port", type=_port, default=8866,
                        help="TCP port (default 8866; 0 = any free)")
    parser.add_argument("--ip", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--notebooks", type=Path, default=None,
                        help="folder of notebooks to serve (default: the project's notebooks/)")
    parser.add_argument("--no-live", action="store_true",
                        help="do not start the live forecast server (energy-nb serve)")
    parser.add_argument("--live-port", type=_port, default=8000,
                        help="port of the live forecast server (default 8000; 0 = any free)")
    parser.add_argument("--no-preheat", action="store_true",
                        help="start kernels on demand instead of keeping one preheated per page")
    add_json_flag(parser)
    parser.set_defaults(func=run_app)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be an integer, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {value}")
    return value


def run_app(args: argparse.Namespace) -> int:
    """Start Voilà and block until it stops.

    Args:
        args: parsed arguments.

    Returns:
        The exit code.
    """
    import json

    from energy_nb.app import AppError, AppOptions, launch

    live_port = None if args.no_live else args.live_port
    kwargs = {}
    if args.notebooks is not None:
        kwargs["notebooks"] = args.notebooks
    options = AppOptions(port=args.port, ip=args.ip, open_browser=not args.no_browser,
                         preheat=not args.no_preheat, **kwargs)

    def echo(text: str) -> None:
        print(text, flush=True)

    try:
        if args.json:
            return launch(options, echo=lambda text: print(text, file=sys.stderr, flush=True),
                          on_ready=lambda urls: print(json.dumps({"urls": urls}), flush=True),
                          live_port=live_port)
        return launch(options, echo=echo, live_port=live_port)
    except AppError as exc:
        raise CliError(str(exc)) from exc
