"""Build the live server from options and settings, and run it until SIGINT/SIGTERM.

``energy-nb serve`` parses and checks its flags, opens the store, then calls
:func:`build_live_server` and :func:`serve_until_stopped`; tests build a server the same way.

Usage::

    server, feed = build_live_server(LiveServerOptions(port=0), store)
    asyncio.run(serve_until_stopped(server, feed, on_ready=print))
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from energy_nb.launch import LaunchError


@dataclass(frozen=True)
class LiveServerOptions:
    """How to run the live server (``energy-nb serve``'s flags, already checked).

    Attributes:
        host: interface to listen on.
        port: port (0 = a free one).
        feed: ``"none"``, ``"replay"`` (stored history) or ``"poll"`` (FRED/EIA).
        replay_start: first replayed day (None: the feed's default).
        replay_interval: seconds between replayed days.
        replay_db: store receiving replayed prices (None: ``$ENERGY_NB_HOME/replay.sqlite``).
        source: poll source, ``"fred"`` or ``"eia"``.
        poll_interval: seconds between polls.
        model: the socket's forecast model.
        history_days: the socket's training window in prices (0 = the whole history).
        broadcast_url: ``memory://`` or ``redis://...`` (None: the settings').
        allow_origin: allowed browser Origins (None: localhost pages).
        max_connections: connections at once.
        max_per_address: connections per client address.
        http_api: serve the HTTP API on the same port.
        api_rate: HTTP API requests per second per address (burst twice that).
        api_workers: forecasts/backtests the HTTP API runs at once.
        api_queue: expensive HTTP API requests allowed to wait.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    feed: str = "none"
    replay_start: str | None = None
    replay_interval: float = 2.0
    replay_db: Path | None = None
    source: str = "fred"
    poll_interval: float = 3600.0
    model: str = "arima"
    history_days: int = 1500
    broadcast_url: str | None = None
    allow_origin: list[str] | None = None
    max_connections: int = 10_000
    max_per_address: int = 256
    http_api: bool = True
    api_rate: float = 10.0
    api_workers: int = 1
    api_queue: int = 4


def build_live_server(options: LiveServerOptions, store: Any,
                      settings: Any = None) -> tuple[Any, Any]:
    """Create the live server and its feed (not started).

    When the socket's forecasts read the store the HTTP API reads (feed ``none`` or ``poll``),
    both fit through one :class:`~energy_nb.service.forecasting.ForecastService`: one cache of
    fitted models, keyed by training window too (the socket fits on the last 1500 prices, the API
    on the whole history). A replay feeds the socket another series, so it keeps its own.

    Args:
        options: the server's options.
        store: the :class:`~energy_nb.data.store.PriceStore` served.
        settings: :class:`~energy_nb.config.Settings` (default: from the environment): API key,
            home folder, broadcast URL.

    Returns:
        ``(LiveServer, feed or None)``.

    Raises:
        LaunchError: the feed or the broadcast URL cannot be used.
    """
    from energy_nb.config import Settings
    from energy_nb.data.store import PriceStore
    from energy_nb.live.broker import make_broker
    from energy_nb.live.feeds import FeedError, PollFeed, ReplayFeed
    from energy_nb.live.forecasting import ModelForecaster, store_series_provider
    from energy_nb.live.server import LiveConfig, LiveServer
    from energy_nb.service.forecasting import ForecastService

    settings = settings or Settings.from_env()
    feed: Any = None
    try:
        if options.feed == "replay":
            history = {code: store.load(code) for code in ("WTI", "BRENT", "NG")}
            replay_db = options.replay_db or settings.home / "replay.sqlite"
            replay_db.parent.mkdir(parents=True, exist_ok=True)
            feed = ReplayFeed(history, start=options.replay_start,
                              interval=options.replay_interval, store=PriceStore(replay_db))
            provider = feed.series
        elif options.feed == "poll":
            feed = PollFeed(store, source=options.source, interval=options.poll_interval,
                            settings=settings)
            provider = feed.series
        else:
            provider = store_series_provider(store)
    except FeedError as exc:
        raise LaunchError(str(exc), option="feed") from None
    url = options.broadcast_url or settings.broadcast_url
    try:
        broker = make_broker(url)
    except ValueError as exc:
        raise LaunchError(str(exc), option="broadcast_url") from None
    config = LiveConfig(host=options.host, port=options.port, api_key=settings.api_key,
                        allowed_origins=options.allow_origin,
                        max_connections=options.max_connections,
                        max_per_address=options.max_per_address)
    service = ForecastService(store)
    window = options.history_days or None
    model = options.model.lower()
    if options.feed == "replay":
        forecaster = ModelForecaster(provider, model=model, history_days=window)
    else:  # the socket reads the API's store: one service, one cache
        forecaster = ModelForecaster(None, model=model, history_days=window, service=service)
    http_app = None
    if options.http_api:
        from energy_nb.live.http_api import ApiSettings, build_api

        http_app = build_api(store, ApiSettings(
            api_key=settings.api_key, origins=config.origins(), rate=options.api_rate,
            burst=max(1, int(2 * options.api_rate)), workers=options.api_workers,
            queue=options.api_queue), forecast_service=service)
    server = LiveServer(forecaster, config, broker, http_app=http_app)
    return server, feed


async def serve_until_stopped(server: Any, feed: Any,
                              on_ready: Callable[[dict[str, Any]], None]) -> None:
    """Start the server and its feed, announce it, and run until SIGINT/SIGTERM; then stop both.

    Args:
        server: a :class:`~energy_nb.live.server.LiveServer` (not started).
        feed: its feed, or None.
        on_ready: called once listening with ``{"url", "port", "broker", "feed", "pid",
            "host"}`` (pid and host say who announced it: instances sharing ``ENERGY_NB_HOME``
            share one log, read by ``energy_nb.app``).

    Raises:
        OSError: the server cannot listen.
    """
    await server.start()
    on_ready({"url": server.url, "port": server.port, "broker": type(server.broker).__name__,
              "feed": type(feed).__name__ if feed else None,
              "pid": os.getpid(), "host": socket.gethostname()})
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
