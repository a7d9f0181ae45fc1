"""A Redis outage loses no update: a REAL redis-server is stopped and restarted mid-stream.

Instance A plays the feed (it has no clients); instance B has the clients. While Redis is down
A keeps computing B's topics and buffers the updates; when Redis returns they are published in
order, B re-announces its topics at once, and a client that was away resumes with every update
(Redis kept its data) or a ``resync`` (Redis came back empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import websockets

from energy_nb.live.broker import TOPICS_PREFIX, RedisBroker, make_broker
from energy_nb.stream.protocol import Topic
from energy_nb.live.server import LiveConfig, LiveServer

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

TOPIC = Topic("WTI", 7)
OUTAGE_SECONDS = 3.0
#: "updates resume within a few seconds of Redis returning"
RESUME_WITHIN = 5.0


class Collector:
    """Reads every message of one WebSocket in the background, with its arrival time."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for text in self.ws:
            self.messages.append((time.monotonic(), json.loads(text)))

    def updates(self) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m["type"] == "forecast_update"]

    async def wait_for(self, predicate: Any, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, message in self.messages:
                if predicate(message):
                    return message
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching message within {timeout} s; got "
                             f"{[m.get('type') for _, m in self.messages]}")


class Feed:
    """What a feed on A does: a new WTI price, then ``refresh`` (one update per topic)."""

    def __init__(self, server: Any, book: Any) -> None:
        self.server = server
        self.book = book
        self.prices: list[float] = []

    async def tick(self) -> None:
        price = 50.0 + 0.25 * len(self.prices)
        self.book.add("WTI", price)
        self.prices.append(price)
        await self.server.refresh(["WTI"])

    async def run_for(self, seconds: float, interval: float = 0.2) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self.tick()
            await asyncio.sleep(interval)


def carries(price: float) -> Any:
    """A predicate: the message is the update computed from this last price."""
    return lambda m: m.get("type") == "forecast_update" and m["points"][0]["mean"] == price


def means(updates: list[dict[str, Any]]) -> list[float]:
    return [round(u["points"][0]["mean"], 6) for u in updates]


async def wait_until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


@dataclass
class Setup:
    """Instance A runs the feed; the ``live`` client on B stays, another left after ``last``."""

    a: Any
    b: Any
    feed: Feed
    live: Collector
    last: dict[str, Any]


@contextlib.asynccontextmanager
async def feed_on_a_clients_on_b(make_server: Any, url: str, book: Any,
                                 ticks: int) -> AsyncIterator[Setup]:
    a = await make_server(broker_url=url)  # the feed instance
    b = await make_server(broker_url=url)  # the clients' instance
    feed = Feed(a, book)
    async with websockets.connect(b.url + "?commodity=WTI&horizon=7") as live_ws, \
            websockets.connect(b.url + "?commodity=WTI&horizon=7") as away_ws:
        live, away = Collector(live_ws), Collector(away_ws)

        async def a_knows_the_topic() -> bool:
            return TOPIC in await a.broker.active_topics()

        await wait_until(a_knows_the_topic)
        for _ in range(ticks):
            await feed.tick()
        last = await away.wait_for(carries(feed.prices[-1]))
        assert means(away.updates()) == feed.prices
        await away_ws.close()  # the away client leaves before the outage
        yield Setup(a, b, feed, live, last)


@contextlib.asynccontextmanager
async def resumed(url: str, last_seq: str) -> AsyncIterator[Any]:
    """A new connection that subscribed to WTI:7 with ``last_seq`` (after ``subscribed``)."""
    async with websockets.connect(url) as ws:
        await ws.recv()  # welcome
        await ws.send(json.dumps({"action": "subscribe", "commodity": "WTI", "horizon": 7,
                                  "last_seq": last_seq}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "subscribed"
        yield ws


@pytest.mark.slow
@pytest.mark.parametrize("persistent", [True, False], ids=["aof", "no-persistence"])
async def test_outage_loses_no_update_and_updates_resume_at_once(
        make_server, redis_server, book, tmp_path: Path, caplog, persistent: bool) -> None:
    caplog.set_level(logging.DEBUG, logger="energy_nb.live.broker")
    async with feed_on_a_clients_on_b(make_server, redis_server.url, book, 4) as setup:
        a, b, feed, live, last = setup.a, setup.b, setup.feed, setup.live, setup.last
        redis_server.stop()
        await feed.run_for(OUTAGE_SECONDS)  # A keeps computing B's topic meanwhile
        during = feed.prices[4:]
        assert len(during) >= 5 and a.broker.buffered == len(during)
        assert a.broker.outages == 1 and not a.broker.connected
        if not persistent:  # Redis comes back empty
            redis_server.workdir = tmp_path / "redis-empty"
            redis_server.workdir.mkdir()
        redis_server.start()
        back = time.monotonic()
        await feed.run_for(2.0)

        # the live client gets every update, in order, without duplicates ...
        await live.wait_for(carries(feed.prices[-1]))
        assert means(live.updates()) == feed.prices
        seqs = [u["seq"] for u in live.updates()]
        assert len(set(seqs)) == len(seqs)
        # ... and the first one held back by the outage arrives within a few seconds
        first_after = next(t for t, m in live.messages if m.get("type") == "forecast_update"
                           and m["points"][0]["mean"] == during[0])
        assert first_after - back < RESUME_WITHIN
        assert a.broker.buffered == 0

        # B re-announced its topic at once (an empty Redis had forgotten it)
        async with aioredis.Redis.from_url(redis_server.url, decode_responses=True) as r:
            assert "WTI:7" in await r.smembers(TOPICS_PREFIX + b.broker.instance_id)

    # the away client resumes from its last seq on B
    async with resumed(b.url, last["seq"]) as ws:
        if persistent:  # every update it missed, in order
            replay = [json.loads(await asyncio.wait_for(ws.recv(), 5))
                      for _ in feed.prices[4:]]
            assert [m["type"] for m in replay] == ["forecast_update"] * len(replay)
            assert means(replay) == feed.prices[4:]
        else:  # the missed range is gone with Redis's data: one resync with the current state
            resync = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert resync["type"] == "resync"
            assert resync["points"][0]["mean"] == feed.prices[-1]

    # one WARNING when the outage starts and one (with its length) when it ends, per instance
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "energy_nb.live.broker" and r.levelno >= logging.WARNING]
    started = [w for w in warnings if "unreachable" in w]
    ended = [w for w in warnings if "is back after an outage of" in w]
    assert len(started) == 2 and len(ended) == 2, warnings
    for line in ended:
        seconds = float(re.search(r"outage of (\d+\.\d) s", line).group(1))
        assert OUTAGE_SECONDS - 0.5 < seconds < OUTAGE_SECONDS + RESUME_WITHIN + 2.5
    assert len(warnings) <= 4 + (0 if persistent else 2), warnings  # + "lost its data"


async def test_outage_past_the_buffer_bound_keeps_the_latest_marked_superseded(
        make_server, redis_server, book) -> None:
    a = await make_server(broker_url=redis_server.url, broker_options={"outage_buffer": 3})
    feed = Feed(a, book)
    async with websockets.connect(a.url + "?commodity=WTI&horizon=7") as ws:
        client = Collector(ws)
        await feed.tick()
        await client.wait_for(lambda m: m["type"] == "forecast_update")
        redis_server.stop()
        for _ in range(7):
            await feed.tick()
        assert a.broker.buffered == 3
        redis_server.start()
        await client.wait_for(carries(feed.prices[-1]))
        updates = client.updates()
        # the first update, then the newest 3 of the 7 made during the outage
        assert means(updates) == [feed.prices[0]] + feed.prices[-3:]
        assert [u.get("superseded") for u in updates] == [None, 4, None, None]


async def test_direct_publish_during_an_outage_still_raises_and_is_not_buffered(
        redis_server) -> None:
    broker = RedisBroker(redis_server.url)
    await broker.start()
    try:
        redis_server.stop()
        from energy_nb.live.broker import BrokerError

        started = time.monotonic()
        with pytest.raises(BrokerError, match="cannot publish WTI:7"):
            await broker.publish(TOPIC, {"type": "forecast_update"})
        assert time.monotonic() - started < 2.0  # fails fast: no long client-side retries
        assert broker.buffered == 0
        assert await broker.publish_or_buffer(TOPIC, {"type": "forecast_update"}) is None
        assert broker.buffered == 1
        # the feed still sees this instance's topics during the outage
        broker.set_local_topics([TOPIC])
        assert await broker.active_topics() == {TOPIC}
    finally:
        await broker.close()


async def test_redis_back_with_older_data_gives_a_resync_not_a_silent_hole(
        make_server, redis_server, book, tmp_path: Path) -> None:
    """Redis restarts from data older than what was read (a lagging replica, the last second of
    an ``appendfsync everysec`` file): resumes from before the loss get a resync."""
    async with feed_on_a_clients_on_b(make_server, redis_server.url, book, 2) as setup:
        b, feed, live = setup.b, setup.feed, setup.live
        # keep a copy of Redis's data as it is now
        redis_server.stop()
        old_data = tmp_path / "redis-old"
        shutil.copytree(redis_server.workdir, old_data)
        redis_server.start()
        for _ in range(3):  # these three are read by both instances, then lost by Redis
            await feed.tick()
        await live.wait_for(carries(feed.prices[-1]))
        redis_server.stop()
        redis_server.workdir = old_data
        redis_server.start()
        await feed.run_for(1.5)
        await live.wait_for(carries(feed.prices[-1]), timeout=10)
        assert means(live.updates()) == feed.prices  # connected throughout: nothing missed

    async with resumed(b.url, setup.last["seq"]) as ws:
        resync = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert (resync["type"], resync["points"][0]["mean"]) == ("resync", feed.prices[-1])


async def test_redis_restarted_empty_too_fast_to_notice_still_gets_the_topics_at_once(
        make_server, redis_server, tmp_path: Path) -> None:
    """No command fails when Redis restarts between two of them (the client's one retry
    reconnects): the new reader connection alone triggers the re-announce."""
    b = await make_server(broker_url=redis_server.url)
    async with websockets.connect(b.url + "?commodity=NG&horizon=3") as ws:
        await ws.recv()
        redis_server.stop()  # blocks the event loop: the brokers see no failed command
        redis_server.workdir = tmp_path / "redis-empty"
        redis_server.workdir.mkdir()
        redis_server.start()
        key = TOPICS_PREFIX + b.broker.instance_id
        async with aioredis.Redis.from_url(redis_server.url, decode_responses=True) as r:
            async def announced() -> bool:
                return "NG:3" in await r.smembers(key)

            await wait_until(announced, timeout=3.0)  # the heartbeat would take 20 s


async def test_topics_subscribed_back_to_back_are_all_announced(
        redis_server, forecaster) -> None:
    """Each subscribe starts an announcement; on a fresh instance they run on new pool
    connections and used to land out of order, leaving the last topic unannounced (so no
    feed computed it) until the 20 s heartbeat: about 1 fresh instance in 10."""
    topics = {"WTI:1", "BRENT:5", "NG:10"}
    async with aioredis.Redis.from_url(redis_server.url, decode_responses=True) as r:
        for _ in range(30):
            server = LiveServer(forecaster, LiveConfig(port=0),
                                make_broker(redis_server.url))
            async with server, websockets.connect(server.url) as ws:
                await ws.recv()
                for topic in sorted(topics):
                    commodity, horizon = topic.split(":")
                    await ws.send(json.dumps({"action": "subscribe", "commodity": commodity,
                                              "horizon": int(horizon)}))
                for _ in topics:
                    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == \
                        "subscribed"
                key = TOPICS_PREFIX + server.broker.instance_id

                async def all_announced() -> bool:
                    return await r.smembers(key) == topics

                await wait_until(all_announced, timeout=1.0)
