"""``energy-nb serve``: the live forecast WebSocket server (protocol: docs/websocket-protocol.md)
and, on the same port, the HTTP API (``/api/v1/...``, OpenAPI at ``/api/openapi.json``).

Usage::

    energy-nb serve                                   # ws://127.0.0.1:8000/api/v1/ws/forecast
    energy-nb serve --feed replay --replay-start 2025-01-02 --replay-interval 2
    energy-nb serve --feed poll --source fred --poll-interval 3600
    ENERGY_NB_BROADCAST_URL=redis://127.0.0.1:6379/0 energy-nb serve --port 8001

The first line printed is the URL (with ``--json``: ``{"url": ..., "port": ...}``), so that
``--port 0`` (a free port) can be used by scripts. SIGINT/SIGTERM stop it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from energy_nb.cli._common import CliError, add_db_flag, add_json_flag, open_store


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command."""
    p = subparsers.add_parser(
        "serve", help="run the live forecast WebSocket server",
        description="Serve live forecasts over WebSocket at /api/v1/ws/forecast, with /healthz, "
                    "/api/v1/ws/stats, /api/docs and the HTTP API (/api/v1/..., OpenAPI at "
                    "/api/openapi.json) on the same port. The API key comes from "
                    "ENERGY_NB_API_KEY, the fan-out backend from ENERGY_NB_BROADCAST_URL "
                    "(memory:// or redis://...).")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = a free port)")
    p.add_argument("--feed", choices=("none", "replay", "poll"), default="none",
                   help="what drives updates: replay stored history, poll FRED/EIA, or nothing "
                        "(only server-side broadcasts and on-demand forecasts)")
    p.add_argument("--replay-start", metavar="DATE",
                   help="first replayed day (default: 60 trading days before the last stored)")
    p.add_argument("--replay-interval", type=float, default=2.0, metavar="SECONDS",
                   help="seconds between replayed days (default 2)")
    p.add_argument("--replay-db", metavar="PATH",
                   help="store receiving replayed prices (default $ENERGY_NB_HOME/replay.sqlite)")
    p.add_argument("--source", choices=("fred", "eia"), default="fred",
                   help="poll source (default fred; eia needs ENERGY_NB_EIA_API_KEY)")
    p.add_argument("--poll-interval", type=float, default=3600.0, metavar="SECONDS",
                   help="seconds between polls (default 3600)")
    p.add_argument("--model", default="arima",
                   help="forecast model (default arima; 'auto' is better but slower per update)")
    p.add_argument("--history-days", type=int, default=1500, metavar="N",
                   help="the socket's forecasts fit on the last N prices (default 1500: quick "
                        "refits; 0 = the whole history, as the HTTP API fits, so the two share "
                        "fitted models)")
    p.add_argument("--broadcast-url", metavar="URL",
                   help="memory:// or redis://HOST:PORT/DB (default $ENERGY_NB_BROADCAST_URL)")
    p.add_argument("--allow-origin", action="append", metavar="ORIGIN",
                   help="allowed browser Origin (repeatable; '*' = any). Default: localhost pages")
    p.add_argument("--max-connections", type=int, default=10_000)
    p.add_argument("--max-per-address", type=int, default=256)
    p.add_argument("--no-http-api", action="store_true",
                   help="serve only the WebSocket and its routes, not the HTTP API")
    p.add_argument("--api-rate", type=float, default=10.0, metavar="PER_SECOND",
                   help="HTTP API requests per second per client address (default 10, burst "
                        "twice that)")
    p.add_argument("--api-workers", type=int, default=1,
                   help="forecasts/backtests the HTTP API runs at once (default 1)")
    p.add_argument("--api-queue", type=int, default=4,
                   help="expensive HTTP API requests allowed to wait; more get 429 (default 4)")
    add_db_flag(p)
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    add_json_flag(p)
    p.set_defaults(func=cmd_serve)


#: Largest accepted ``--replay-interval`` and ``--poll-interval`` (seconds): one week.
MAX_INTERVAL_SECONDS = 7 * 24 * 3600.0


def _check_seconds(flag: str, value: float) -> None:
    """Refuse a non-finite, non-positive or absurdly long interval, naming the flag."""
    if not math.isfinite(value) or value <= 0:
        raise CliError(f"{flag} must be positive (a finite number of seconds), got {value!r}")
    if value > MAX_INTERVAL_SECONDS:
        raise CliError(f"{flag} must be at most {MAX_INTERVAL_SECONDS:g} seconds (one week), "
                       f"got {value:g}")


def _check(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be in 0..65535, got {args.port}")
    _check_seconds("--replay-interval", args.replay_interval)
    _check_seconds("--poll-interval", args.poll_interval)
    for flag, value in (("--max-connections", args.max_connections),
                        ("--max-per-address", args.max_per_address)):
        if not 1 <= value <= 1_000_000:
            raise CliError(f"{flag} must be in 1..1000000, got {value}")
    from energy_nb.models import MODEL_NAMES

    if args.model.lower() not in MODEL_NAMES:
        raise CliError(f"unknown model {args.model!r}; expected one of {', '.join(MODEL_NAMES)}")
    if args.history_days != 0 and not 2 <= args.history_days <= 1_000_000:
        raise CliError(f"--history-days must be 0 (whole history) or in 2..1000000, "
                       f"got {args.history_days}")
    if not (math.isfinite(args.api_rate) and args.api_rate > 0):
        raise CliError(f"--api-rate must be a positive number, got {args.api_rate!r}")
    if not 1 <= args.api_workers <= 64:
        raise CliError(f"--api-workers must be in 1..64, got {args.api_workers}")
    if not 0 <= args.api_queue <= 10_000:
        raise CliError(f"--api-queue must be in 0..10000, got {args.api_queue}")
    if args.replay_start is not None and args.feed != "replay":
        raise CliError("--replay-start needs --feed replay")


def options_from_args(args: argparse.Namespace) -> Any:
    """The live server's options from checked arguments.

    Args:
        args: parsed ``serve`` arguments.

    Returns:
        A :class:`~energy_nb.launch.live.LiveServerOptions`.
    """
    from energy_nb.launch.live import LiveServerOptions

    return LiveServerOptions(
        host=args.host, port=args.port, feed=args.feed, replay_start=args.replay_start,
        replay_interval=args.replay_interval,
        replay_db=Path(args.replay_db) if args.replay_db else None, source=args.source,
        poll_interval=args.poll_interval, model=args.model, history_days=args.history_days,
        broadcast_url=args.broadcast_url, allow_origin=args.allow_origin,
        max_connections=args.max_connections, max_per_address=args.max_per_address,
        http_api=not args.no_http_api, api_rate=args.api_rate, api_workers=args.api_workers,
        api_queue=args.api_queue)


def build(args: argparse.Namespace) -> tuple[Any, Any]:
    """Check the arguments, open the store and create the server and its feed (not started).

    The server is composed by :func:`energy_nb.launch.live.build_live_server` (one forecast
    service for the socket and the HTTP API unless the feed is a replay).

    Returns:
        ``(LiveServer, feed or None)``.

    Raises:
        CliError: a bad flag, store, feed or broadcast URL.
    """
    from energy_nb.launch import LaunchError
    from energy_nb.launch.live import build_live_server

    _check(args)
    store = open_store(args)
    try:
        return build_live_server(options_from_args(args), store)
    except LaunchError as exc:
        raise CliError(str(exc)) from None


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until SIGINT/SIGTERM."""
    from energy_nb.launch.live import serve_until_stopped

    logging.basicConfig(level=getattr(logging, args.log_level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "DEBUG":  # a new store's migrations: Alembic's progress lines are noise
        logging.getLogger("alembic").setLevel(logging.WARNING)
    server, feed = build(args)

    def announce(info: dict[str, Any]) -> None:
        print(json.dumps(info) if args.json else f"serving {info['url']}", flush=True)

    try:
        asyncio.run(serve_until_stopped(server, feed, announce))
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    return 0
