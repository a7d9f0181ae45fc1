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
import os
import signal
import socket
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


def build(args: argparse.Namespace) -> tuple[Any, Any]:
    """Create the server and its feed (not started) from parsed arguments.

    When the socket's forecasts read the store the HTTP API reads (``--feed none`` or ``poll``),
    both fit through one :class:`~energy_nb.service.forecasting.ForecastService`: one cache of
    fitted models, keyed by training window too (the socket fits on the last 1500 prices, the API
    on the whole history). A replay feeds the socket another series, so it keeps its own.

    Returns:
        ``(LiveServer, feed or None)``.
    """
    from energy_nb.config import Settings
    from energy_nb.data.store import PriceStore
    from energy_nb.live.broker import make_broker
    from energy_nb.live.feeds import FeedError, PollFeed, ReplayFeed
    from energy_nb.live.forecasting import ModelForecaster, store_series_provider
    from energy_nb.live.server import LiveConfig, LiveServer
    from energy_nb.service.forecasting import ForecastService

    _check(args)
    settings = Settings.from_env()
    store = open_store(args)
    feed: Any = None
    try:
        if args.feed == "replay":
            history = {code: store.load(code) for code in ("WTI", "BRENT", "NG")}
            replay_db = Path(args.replay_db) if args.replay_db else settings.home / "replay.sqlite"
            replay_db.parent.mkdir(parents=True, exist_ok=True)
            feed = ReplayFeed(history, start=args.replay_start, interval=args.replay_interval,
                              store=PriceStore(replay_db))
            provider = feed.series
        elif args.feed == "poll":
            feed = PollFeed(store, source=args.source, interval=args.poll_interval,
                            settings=settings)
            provider = feed.series
        else:
            provider = store_series_provider(store)
    except FeedError as exc:
        raise CliError(str(exc)) from None
    url = args.broadcast_url or settings.broadcast_url
    try:
        broker = make_broker(url)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    config = LiveConfig(host=args.host, port=args.port, api_key=settings.api_key,
                        allowed_origins=args.allow_origin,
                        max_connections=args.max_connections,
                        max_per_address=args.max_per_address)
    service = ForecastService(store)
    window = args.history_days or None
    if args.feed == "replay":
        forecaster = ModelForecaster(provider, model=args.model.lower(), history_days=window)
    else:  # the socket reads the API's store: one service, one cache
        forecaster = ModelForecaster(None, model=args.model.lower(), history_days=window,
                                     service=service)
    http_app = None
    if not args.no_http_api:
        from energy_nb.live.http_api import ApiSettings, build_api

        http_app = build_api(store, ApiSettings(
            api_key=settings.api_key, origins=config.origins(), rate=args.api_rate,
            burst=max(1, int(2 * args.api_rate)), workers=args.api_workers,
            queue=args.api_queue), forecast_service=service)
    server = LiveServer(forecaster, config, broker, http_app=http_app)
    return server, feed


async def _run(server: Any, feed: Any, as_json: bool) -> None:
    await server.start()
    info = {"url": server.url, "port": server.port, "broker": type(server.broker).__name__,
            "feed": type(feed).__name__ if feed else None,
            # who printed it: instances sharing ENERGY_NB_HOME share one log (energy_nb.app)
            "pid": os.getpid(), "host": socket.gethostname()}
    print(json.dumps(info) if as_json else f"serving {server.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    feed_task = asyncio.ensure_future(feed.run(server)) if feed is not None else None
    try:
        await stop.wait()
    finally:
        if feed_task is not None:
            feed_task.cancel()
            try:
                await feed_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001, S110 - shutting down
                pass
        await server.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until SIGINT/SIGTERM."""
    logging.basicConfig(level=getattr(logging, args.log_level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server, feed = build(args)
    try:
        asyncio.run(_run(server, feed, args.json))
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    return 0
