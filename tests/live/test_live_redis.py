"""Fan-out across instances through a REAL redis-server (started per test on a free port)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from energy_nb.live.broker import CLOSE_GRACE, BrokerError, RedisBroker
from energy_nb.stream.client import ForecastStream
from energy_nb.stream.protocol import Topic

pytestmark = [pytest.mark.redis, pytest.mark.timeout(90)]


async def recv_json(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_update_published_on_a_reaches_a_client_on_b(make_server, redis_server, book) -> None:
    a = await make_server(broker_url=redis_server.url)
    b = await make_server(broker_url=redis_server.url)
    assert a.port != b.port
    async with websockets.connect(b.url + "?commodity=WTI&horizon=7") as on_b, \
            websockets.connect(a.url + "?commodity=WTI&horizon=7") as on_a:
        await recv_json(on_b)
        await recv_json(on_a)
        book.add("WTI", 88.0)
        seq = await a.broadcast_forecast_update("WTI", horizon=7)
        for ws in (on_b, on_a):
            update = await recv_json(ws)
            assert (update["type"], update["seq"]) == ("forecast_update", seq)
            assert update["points"][0]["mean"] == pytest.approx(88.0)
        # seq is the Redis stream entry id
        assert (await b.broker.latest(Topic("WTI", 7)))[0] == seq
        # feeds on A recompute topics that only B's clients subscribe to
        async with websockets.connect(b.url + "?commodity=NG&horizon=2") as ng_on_b:
            await recv_json(ng_on_b)
            for _ in range(50):  # B announces its topics in Redis right after the subscribe
                if Topic("NG", 2) in await a.broker.active_topics():
                    break
                await asyncio.sleep(0.02)
            published = await a.refresh(["NG"])
            assert list(published) == ["NG:2"]
            assert (await recv_json(ng_on_b))["seq"] == published["NG:2"]


async def publish_retrying(server: Any, commodity: str, horizon: int) -> str:
    for _ in range(100):
        try:
            return await server.broadcast_forecast_update(commodity, horizon)
        except BrokerError:
            await asyncio.sleep(0.1)
    raise AssertionError("redis did not come back")


async def test_redis_restarted_mid_stream(make_server, redis_server, book) -> None:
    a = await make_server(broker_url=redis_server.url)
    b = await make_server(broker_url=redis_server.url)
    async with websockets.connect(b.url + "?commodity=BRENT&horizon=3") as ws:
        await recv_json(ws)
        book.add("BRENT", 81.0)
        before = await a.broadcast_forecast_update("BRENT", 3)
        assert (await recv_json(ws))["seq"] == before
        redis_server.stop()
        with pytest.raises(BrokerError):
            await a.broadcast_forecast_update("BRENT", 3)
        await ws.send('{"action": "ping"}')  # the WebSocket side is unaffected
        assert (await recv_json(ws))["type"] == "pong"
        redis_server.start()
        book.add("BRENT", 82.0)
        after = await publish_retrying(a, "BRENT", 3)
        update = await recv_json(ws, timeout=15)
        assert update["seq"] == after and update["points"][0]["mean"] == pytest.approx(82.0)
    # the stream survived the restart (append-only file): resume replays across it
    async with websockets.connect(a.url) as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"action": "subscribe", "commodity": "BRENT", "horizon": 3,
                                  "last_seq": "0-1"}))
        assert (await recv_json(ws))["type"] == "subscribed"
        assert [(await recv_json(ws))["seq"] for _ in range(2)] == [before, after]


async def test_client_away_during_three_updates_gets_all_three_on_another_instance(
        make_server, redis_server, book) -> None:
    a = await make_server(broker_url=redis_server.url)
    b = await make_server(broker_url=redis_server.url)
    stream = ForecastStream(b.url, api_key="", reconnect_interval=0.05, request_initial=False)
    await stream.subscribe("WTI", 7)
    stream.start()
    try:
        await stream.wait_for(lambda m: m["type"] == "subscribed", since=0)
        first = await a.broadcast_forecast_update("WTI", 7)
        await stream.wait_for(lambda m: m.get("seq") == first, since=0)
        await stream.stop()
        missed = []
        for price in (60.0, 61.0, 62.0):
            book.add("WTI", price)
            missed.append(await a.broadcast_forecast_update("WTI", 7))
        stream.url = a.url  # reconnect to the other instance
        count = stream.received_count
        stream.start()
        await stream.wait_for(lambda m: m.get("seq") == missed[-1], since=count)
        got = [m for m in list(stream.messages)[-(stream.received_count - count):]
               if m["type"] == "forecast_update"]
        assert [m["seq"] for m in got] == missed
        assert [m["points"][0]["mean"] for m in got] == pytest.approx([60.0, 61.0, 62.0])
        assert stream.last_seq[Topic("WTI", 7)] == missed[-1]
    finally:
        await stream.stop()


async def test_trimmed_redis_stream_gets_resync(make_server, redis_server, book) -> None:
    a = await make_server(broker_url=redis_server.url, broker_options={"maxlen": 2})
    first = await a.broadcast_forecast_update("NG", 1)
    for price in (2.5, 2.6, 2.7):
        book.add("NG", price)
        latest = await a.broadcast_forecast_update("NG", 1)
    async with websockets.connect(a.url) as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"action": "subscribe", "commodity": "NG", "horizon": 1,
                                  "last_seq": first}))
        assert (await recv_json(ws))["type"] == "subscribed"
        resync = await recv_json(ws)
        assert (resync["type"], resync["seq"]) == ("resync", latest)
        assert resync["points"][0]["mean"] == pytest.approx(2.7)


async def test_close_right_after_a_publish_never_hangs(redis_server, caplog) -> None:
    """``close()`` while the reader is woken by an update (redis-py can swallow that cancel in
    its blocking ``XREAD``: before the fix about one close in three hung for good)."""
    topic = Topic("WTI", 7)
    for i in range(20):
        broker = RedisBroker(redis_server.url)
        await broker.start()
        await asyncio.sleep(0.05)  # the reader is blocked in XREAD
        await broker.publish(topic, {"type": "forecast_update", "n": i})
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(broker.close(), 10)  # hung: TimeoutError
        took = asyncio.get_running_loop().time() - started
        assert took < CLOSE_GRACE + 2.0, f"close {i} took {took:.1f} s"
        assert all(task.done() for task in broker._tasks) and not broker._tasks
    # a close is no outage
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]
