"""``energy-nb app``: serve the dashboards with Voilà.

Usage::

    energy-nb app [--port 8866] [--ip 127.0.0.1] [--no-browser] [--notebooks DIR]
                  [--no-preheat] [--max-visitors N] [--idle-timeout SECONDS] [--tree]
                  [--insecure] [--no-live | --live-port 8000] [--feed poll|replay|none]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from energy_nb.cli._common import CliError, add_json_flag
from energy_nb.cli._forecast_args import non_negative_int_arg, positive_int_arg


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``app`` command.

    Args:
        subparsers: the top-level subparsers.
    """
    parser = subparsers.add_parser(
        "app", help="serve the dashboards with Voila",
        description="Launch Voila on the project's notebooks with the packaged configuration "
                    "(preheated kernels, tracebacks hidden) and, unless --no-live, the live "
                    "forecast server; print the URLs. http://HOST:PORT/ is the landing page; "
                    "only the dashboards are served (not explore.ipynb or report.ipynb). A "
                    "page's kernel is released when its tab closes, when its browser never "
                    "connects (45 s), or after --idle-timeout seconds idle. The live server's "
                    "output goes to $ENERGY_NB_HOME/logs/live-server.log.",
    )
    parser.add_argument("--port", type=_port, default=8866,
                        help="TCP port (default 8866; 0 = any free)")
    parser.add_argument("--ip", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1). Any other address "
                             "needs ENERGY_NB_API_KEY (visitors open a page once with "
                             "?token=KEY) or --insecure")
    parser.add_argument("--insecure", action="store_true",
                        help="allow a non-loopback --ip without ENERGY_NB_API_KEY: anyone who "
                             "reaches the machine can use the dashboards and live server")
    parser.add_argument("--max-visitors", type=positive_int_arg, default=None, metavar="N",
                        help="pages served at once; beyond it a visitor gets a 'busy, retry "
                             "in N s' page (HTTP 503). Default: (memory - 2 GiB) / 350 MiB "
                             "per visitor, printed at start")
    parser.add_argument("--warm-kernels", type=non_negative_int_arg, default=None, metavar="N",
                        help="kernels kept started, with the dashboards' libraries imported, "
                             "for whichever page a crowd opens (0 = none). Default: a quarter "
                             "of --max-visitors, 1 to 16, printed at start")
    parser.add_argument("--idle-timeout", type=_seconds, default=900.0, metavar="SECONDS",
                        help="release an open page's kernel after this many seconds without "
                             "activity; the page then offers a reload (default 900; 0 = never)")
    parser.add_argument("--tree", action="store_true",
                        help="also serve Voila's file list at /voila/tree/ (off by default)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--notebooks", type=Path, default=None,
                        help="folder of notebooks to serve (default: the project's notebooks/)")
    parser.add_argument("--no-live", action="store_true",
                        help="do not start the live forecast server (energy-nb serve)")
    parser.add_argument("--live-port", type=_port, default=8000,
                        help="port of the live forecast server (default 8000; 0 = any free)")
    parser.add_argument("--feed", choices=("poll", "replay", "none"), default="poll",
                        help="what drives live updates: poll FRED/EIA for new prices (default, "
                             "real use), replay the stored history (offline demo; make run "
                             "uses it with the offline data), or none")
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
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
                         preheat=not args.no_preheat, max_visitors=args.max_visitors,
                         warm_kernels=args.warm_kernels,
                         idle_timeout=args.idle_timeout, tree=args.tree,
                         insecure=args.insecure, feed=args.feed, **kwargs)

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
