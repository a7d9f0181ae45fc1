"""Feeds (replay, poll) and the ``energy-nb serve`` command, end to end on 127.0.0.1."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import websockets

from energy_nb.config import Settings
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import PriceSeries, read_price_csv
from energy_nb.live.feeds import FeedError, PollFeed, ReplayFeed
from energy_nb.live.forecasting import ModelForecaster
from energy_nb.live.server import LiveConfig, LiveServer

pytestmark = pytest.mark.timeout(90)


async def recv_json(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_replay_recomputes_once_per_commodity_without_look_ahead(book, tmp_path) -> None:
    history = {c: book(c) for c in ("WTI", "BRENT", "NG")}
    start = history["WTI"].index[-5]
    store = PriceStore(tmp_path / "replay.sqlite")
    feed = ReplayFeed(history, start=start, interval=0.01, store=store, loop=False)
    assert feed.cursor == history["WTI"].index[-6]
    seen_ends: list[pd.Timestamp] = []

    def series(code: str) -> pd.Series:
        s = feed.series(code)
        seen_ends.append(s.index[-1])
        return s

    forecaster = ModelForecaster(series, model="random_walk", history_days=None)
    async with LiveServer(forecaster, LiveConfig(port=0)) as server:  # noqa: SIM117 - url first
        async with websockets.connect(server.url + "?commodity=WTI&horizon=3") as ws3, \
                websockets.connect(server.url + "?commodity=WTI&horizon=5") as ws5:
            await recv_json(ws3)
            await recv_json(ws5)
            for expected_day in history["WTI"].index[-5:-2]:
                fits = forecaster.fits
                published = await feed.step(server)
                assert sorted(published) == ["WTI:3", "WTI:5"]  # only subscribed topics
                assert forecaster.fits == fits + 1  # one fit for both WTI horizons
                for ws, h in ((ws3, 3), (ws5, 5)):
                    update = await recv_json(ws)
                    assert update["as_of"] == expected_day.strftime("%Y-%m-%d")
                    assert len(update["points"]) == h
                    assert update["points"][0]["mean"] == pytest.approx(
                        history["WTI"].loc[expected_day])
                    assert update["points"][0]["date"] > update["as_of"]
            assert max(seen_ends) == feed.cursor == history["WTI"].index[-3]  # never beyond
    stored = store.load("WTI")
    assert list(stored.index) == list(history["WTI"].index[-5:-2])
    assert stored.values == pytest.approx(history["WTI"].iloc[-5:-2].values)


def test_replay_rejects_bad_settings(book) -> None:
    history = {"WTI": book("WTI")}
    with pytest.raises(FeedError, match="must be after the first stored day"):
        ReplayFeed(history, start="1990-01-01")
    with pytest.raises(FeedError, match="not after the last"):
        ReplayFeed(history, start="2100-01-01")
    with pytest.raises(FeedError, match="bad replay start"):
        ReplayFeed(history, start="yesterday-ish")
    with pytest.raises(FeedError, match="import data first"):
        ReplayFeed({"WTI": pd.Series(dtype=float)})
    with pytest.raises(FeedError, match="positive"):
        ReplayFeed(history, interval=0)
    feed = ReplayFeed(history, start=history["WTI"].index[-1], loop=True)
    assert feed.advance() == {"WTI": pytest.approx(history["WTI"].iloc[-1])}
    feed.advance()  # wraps around to the start
    assert feed.cursor == history["WTI"].index[-1]


class FredHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``self.server.body`` as FRED's CSV (or ``self.server.status`` errors)."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        body = self.server.body.encode()  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fred() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FredHandler)
    server.body, server.status, server.requests = "", 200, []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def fred_csv(series: pd.Series) -> str:
    lines = ["observation_date,DCOILWTICO"]
    lines += [f"{d:%Y-%m-%d},{v:.2f}" for d, v in series.items()]
    return "\n".join(lines) + "\n"


async def test_poll_stores_new_prices_and_broadcasts(book, tmp_path, fred) -> None:
    wti = book("WTI").round(2)
    store = PriceStore(tmp_path / "store.sqlite")
    store.import_series(PriceSeries("WTI", "seed", [d.date() for d in wti.index[:-1]],
                                    [float(v) for v in wti.iloc[:-1]],
                                    list(range(len(wti) - 1))))
    settings = Settings(home=tmp_path, fred_base_url=f"http://127.0.0.1:{fred.server_port}/csv")
    feed = PollFeed(store, source="fred", interval=60, commodities=["WTI"], settings=settings)
    forecaster = ModelForecaster(feed.series, model="random_walk", history_days=None)
    async with LiveServer(forecaster, LiveConfig(port=0)) as server:  # noqa: SIM117 - url first
        async with websockets.connect(server.url + "?commodity=WTI&horizon=2") as ws:
            await recv_json(ws)
            fred.status, fred.body = 500, "boom"
            assert await feed.step(server) == {}
            assert "500" in feed.last_errors["WTI"]
            fred.status, fred.body = 200, fred_csv(wti.iloc[-10:])  # one new day at the end
            published = await feed.step(server)
            assert list(published) == ["WTI:2"]
            update = await recv_json(ws)
            assert update["as_of"] == wti.index[-1].strftime("%Y-%m-%d")
            assert update["points"][0]["mean"] == pytest.approx(wti.iloc[-1])
            assert feed.last_errors == {}
            assert "cosd=" in fred.requests[-1]  # asks only for recent days
            assert await feed.step(server) == {}  # nothing new: no broadcast
            # a revised past price is not overwritten, and does not block a new day
            revised = wti.iloc[-10:].copy()
            revised.iloc[0] += 5.0
            next_day = wti.index[-1] + pd.offsets.BDay(1)
            revised.loc[next_day] = 77.77
            fred.body = fred_csv(revised)
            assert list(await feed.step(server)) == ["WTI:2"]
            assert (await recv_json(ws))["points"][0]["mean"] == pytest.approx(77.77)
            assert store.load("WTI").loc[wti.index[-10]] == pytest.approx(wti.iloc[-10])
    assert store.last_date("WTI") == wti.index[-1] + pd.offsets.BDay(1)


def energy_nb_cmd() -> list[str]:
    script = Path(sys.executable).with_name("energy-nb")
    return [str(script)] if script.exists() else [sys.executable, "-m", "energy_nb.cli"]


@pytest.mark.slow
async def test_serve_command_with_replay_feed(tmp_path: Path, eia_dir: Path) -> None:
    store = PriceStore(tmp_path / "energy_nb.sqlite")
    for code, name in (("WTI", "wti-daily.csv"), ("NG", "henryhub-daily.csv")):
        store.import_series(read_price_csv(eia_dir / name, commodity=code))
    env = {**os.environ, "ENERGY_NB_HOME": str(tmp_path), "ENERGY_NB_API_KEY": "k3y",
           "ENERGY_NB_BROADCAST_URL": "memory://"}
    proc = await asyncio.create_subprocess_exec(
        *energy_nb_cmd(), "serve", "--port", "0", "--json", "--feed", "replay",
        "--replay-start", "2020-04-14", "--replay-interval", "0.3", "--model", "drift",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        info = json.loads(line)
        assert info["feed"] == "ReplayFeed" and info["broker"] == "MemoryBroker"
        async with websockets.connect(info["url"] + "?commodity=WTI&horizon=3&api_key=k3y") as ws:
            assert (await recv_json(ws))["type"] == "welcome"
            days = []
            while len(days) < 5:
                update = await recv_json(ws)
                days.append(update["as_of"])
                if update["as_of"] == "2020-04-20":  # the negative price replays as-is
                    assert update["model"] == "drift" and len(update["points"]) == 3
        assert days == sorted(days) and days[0] >= "2020-04-14"
        assert "2020-04-20" in days
        assert PriceStore(tmp_path / "replay.sqlite").load("WTI").loc["2020-04-20"] \
            == pytest.approx(-36.98)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
        stderr = (await proc.stderr.read()).decode()
    assert code == 0, stderr
    assert "k3y" not in stderr
    # the replay store is created (migrated) here: Alembic's progress lines are not the log's
    assert "alembic" not in stderr, stderr


def test_serve_command_rejects_bad_arguments(tmp_path: Path) -> None:
    env = {**os.environ, "ENERGY_NB_HOME": str(tmp_path)}
    PriceStore(tmp_path / "energy_nb.sqlite")  # an empty store: serve refuses a missing one
    for args, message in ((["--model", "crystal-ball"], "unknown model"),
                          (["--replay-interval", "0", "--feed", "replay"], "must be positive"),
                          # issue 13.13: nan was accepted and replayed as fast as it could
                          (["--replay-interval", "nan", "--feed", "replay"],
                           "--replay-interval must be positive (a finite number of seconds)"),
                          (["--replay-start", "2025-01-01"], "needs --feed replay"),
                          (["--feed", "replay"], "import data first")):
        done = subprocess.run([*energy_nb_cmd(), "serve", "--port", "0", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "energy-nb: error:" in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--replay-interval", "nan"], "--replay-interval must be positive (a finite number of "
                                   "seconds), got nan"),
    (["--replay-interval", "inf"], "--replay-interval must be positive"),
    (["--replay-interval", "-2"], "--replay-interval must be positive"),
    (["--replay-interval", "0"], "--replay-interval must be positive"),
    (["--replay-interval", "1e9"], "--replay-interval must be at most 604800 seconds"),
    (["--poll-interval", "nan"], "--poll-interval must be positive"),
    (["--poll-interval=-inf"], "--poll-interval must be positive"),
    (["--poll-interval", "1e400"], "--poll-interval must be positive"),
    (["--max-connections", "0"], "--max-connections must be in 1..1000000, got 0"),
    (["--max-per-address", "-5"], "--max-per-address must be in 1..1000000, got -5"),
    (["--port", "70000"], "--port must be in 0..65535"),
])
def test_serve_refuses_non_finite_and_out_of_range_numbers(args: list[str], message: str,
                                                           capsys, tmp_path: Path,
                                                           monkeypatch) -> None:
    """Issue 13.13: every numeric ``serve`` flag is checked before anything starts."""
    from energy_nb.cli import main

    monkeypatch.setenv("ENERGY_NB_HOME", str(tmp_path))
    assert main(["serve", "--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert f"energy-nb: error: {message}" in err
    assert not list(tmp_path.iterdir())  # refused before opening any store
