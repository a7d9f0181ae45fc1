"""``energy-nb serve``'s socket and HTTP API share one forecast service and its cache.

The server is built by the command itself (:func:`energy_nb.cli.serve.build`), runs on loopback
with the real EIA prices, and is asked over its WebSocket and then over HTTP: the same training
window is one fit, another window is another fit with other numbers.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from energy_nb.cli import build_parser
from energy_nb.cli.serve import build
from energy_nb.stream.protocol import Topic, encode, forecast_request

SCRIPT = Path(sys.executable).parent / "energy-nb"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, eia_dir: Path) -> Path:
    home = tmp_path_factory.mktemp("shared-home")
    env = {**os.environ, "ENERGY_NB_HOME": str(home)}
    subprocess.run([str(SCRIPT), "data", "init", "--offline-dir", str(eia_dir)], check=True,
                   capture_output=True, env=env, timeout=300)
    return home


class Serving:
    """``energy-nb serve --port 0 ...`` built by the command's own ``build``, on a thread."""

    def __init__(self, home: Path, *flags: str) -> None:
        args = build_parser().parse_args(["serve", "--port", "0", "--model", "drift", "--db",
                                          str(home / "energy_nb.sqlite"), *flags])
        self.server, _ = build(args)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)
        self.port = self.server.port

    def socket_forecast(self, commodity: str, horizon: int) -> dict[str, Any]:
        """The socket's answer to a ``forecast`` action."""
        async def ask() -> dict[str, Any]:
            url = f"ws://127.0.0.1:{self.port}/api/v1/ws/forecast"
            async with websockets.connect(url) as ws:
                assert json.loads(await ws.recv())["type"] == "welcome"
                await ws.send(encode(forecast_request(Topic(commodity, horizon), "f1")))
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if message["type"] == "forecast_update":
                        return message
                    assert message["type"] != "error", message

        return asyncio.run(ask())

    def api_forecast(self, **params: str) -> dict[str, Any]:
        reply = httpx.get(f"http://127.0.0.1:{self.port}/api/v1/forecast", params=params,
                          timeout=120)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def serve(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("ENERGY_NB_API_KEY", raising=False)
    monkeypatch.setenv("ENERGY_NB_HOME", str(home))
    started: list[Serving] = []

    def start(*flags: str) -> Serving:
        started.append(Serving(home, *flags))
        return started[-1]

    yield start
    for serving in started:
        serving.stop()


def means(update: dict[str, Any]) -> list[float]:
    return [point["mean"] for point in update["points"]]


def test_the_socket_and_the_api_share_one_service(serve: Any) -> None:
    serving = serve("--history-days", "0")  # the socket fits on the whole history, as the API
    service = serving.server.forecast_fn.service
    assert service.cache_stats().fits == 0
    update = serving.socket_forecast("WTI", 5)
    assert service.cache_stats().fits == 1
    served = serving.api_forecast(commodity="wti", model="drift", horizon="5")
    stats = service.cache_stats()
    assert (stats.fits, stats.hits) == (1, 1) and served["cached"] is True  # the socket's fit
    assert served["origin"] == update["as_of"]
    assert served["forecast"]["mean"] == pytest.approx(means(update), abs=1e-4)


def test_another_training_window_is_another_fit(serve: Any) -> None:
    serving = serve()  # the default: the socket fits on the last 1500 prices
    service = serving.server.forecast_fn.service
    update = serving.socket_forecast("WTI", 5)
    served = serving.api_forecast(commodity="wti", model="drift", horizon="5")
    assert service.cache_stats().fits == 2 and served["cached"] is False
    assert served["origin"] == update["as_of"]
    # drift's slope is the window's average change: the whole history gives other numbers
    assert abs(served["forecast"]["mean"][-1] - means(update)[-1]) > 1e-3
    again = serving.socket_forecast("WTI", 3)  # each window keeps its own cached fit
    assert service.cache_stats().fits == 2 and means(again) == means(update)[:3]


def test_a_replay_keeps_its_own_service(serve: Any, home: Path) -> None:
    serving = serve("--feed", "replay", "--replay-db", str(home / "replay.sqlite"))
    from energy_nb.live.forecasting import SeriesView

    service = serving.server.forecast_fn.service  # fits on the replayed series, not the store
    assert isinstance(service.store, SeriesView)
    assert service.registry.record("drift", "WTI") is None  # and records nothing


def test_a_bad_history_window_is_refused(home: Path) -> None:
    from energy_nb.cli._common import CliError

    args = build_parser().parse_args(["serve", "--port", "0", "--history-days", "1"])
    with pytest.raises(CliError, match="--history-days"):
        build(args)
