"""Delivery guarantees: resume from last_seq, resync, server restart, slow consumers, client."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from typing import Any

import pytest
import websockets
from websockets.frames import Frame, Opcode

from energy_nb.stream import protocol
from energy_nb.live.broker import MemoryBroker
from energy_nb.stream.client import ForecastStream
from energy_nb.stream.protocol import Topic
from energy_nb.live.server import LiveConfig, LiveServer

pytestmark = pytest.mark.timeout(60)


async def recv_json(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_resume_with_last_seq_gets_every_missed_update_in_order(make_server, book) -> None:
    server = await make_server()
    async with websockets.connect(server.url + "?commodity=WTI&horizon=5") as ws:
        await recv_json(ws)
        book.add("WTI", 70.0)
        first = await server.broadcast_forecast_update("WTI", 5)
        assert (await recv_json(ws))["seq"] == first
    missed = []
    for price in (71.0, 72.0, 73.0):  # published while the client is away
        book.add("WTI", price)
        missed.append(await server.broadcast_forecast_update("WTI", 5))
    async with websockets.connect(server.url) as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"action": "subscribe", "commodity": "WTI", "horizon": 5,
                                  "last_seq": first}))
        subscribed = await recv_json(ws)
        assert subscribed["type"] == "subscribed" and subscribed["seq"] == missed[-1]
        got = [await recv_json(ws) for _ in missed]
        assert [m["seq"] for m in got] == missed
        assert [m["points"][0]["mean"] for m in got] == pytest.approx([71.0, 72.0, 73.0])
        # then live ones, no duplicates
        book.add("WTI", 74.0)
        live = await server.broadcast_forecast_update("WTI", 5)
        assert (await recv_json(ws))["seq"] == live


async def test_trimmed_range_gets_resync_with_the_current_forecast(make_server, book,
                                                                   forecaster) -> None:
    server = LiveServer(forecaster, LiveConfig(port=0), MemoryBroker(maxlen=2))
    async with server:
        async with websockets.connect(server.url + "?commodity=NG&horizon=3") as ws:
            await recv_json(ws)
            first = await server.broadcast_forecast_update("NG", 3)
            await recv_json(ws)
        for price in (3.1, 3.2, 3.3):
            book.add("NG", price)
            latest = await server.broadcast_forecast_update("NG", 3)
        async with websockets.connect(server.url) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"action": "subscribe", "commodity": "NG", "horizon": 3,
                                      "last_seq": first}))
            assert (await recv_json(ws))["type"] == "subscribed"
            resync = await recv_json(ws)
            assert resync["type"] == "resync" and resync["seq"] == latest
            assert resync["reason"] == "trimmed_or_unknown"
            assert resync["points"][0]["mean"] == pytest.approx(3.3)


async def test_unknown_seq_with_empty_history_resyncs_with_a_computed_forecast(make_server,
                                                                               book) -> None:
    server = await make_server()
    async with websockets.connect(server.url) as ws:
        await recv_json(ws)
        await ws.send('{"action": "subscribe", "commodity": "BRENT", "horizon": 2,'
                      ' "last_seq": "1000-0"}')
        assert (await recv_json(ws))["type"] == "subscribed"
        resync = await recv_json(ws)
        assert resync["type"] == "resync" and resync["seq"] is None
        assert resync["points"][0]["mean"] == pytest.approx(book("BRENT").iloc[-1])


async def test_forecast_stream_survives_server_restart_and_resumes(forecaster, book) -> None:
    server = LiveServer(forecaster, LiveConfig(port=0))
    await server.start()
    port = server.port
    stream = ForecastStream(server.url, api_key="", reconnect_interval=0.05, max_interval=0.2)
    statuses: list[bool] = []
    updates: list[dict[str, Any]] = []
    stream.add_status_observer(lambda state: statuses.append(state.connected))
    stream.add_observer(updates.append)
    await stream.subscribe("WTI", 7)
    stream.start()
    try:
        await stream.wait_connected()
        initial = await stream.wait_for(lambda m: m["type"] == "forecast_update", since=0)
        assert initial["seq"] is None  # the reply to the initial forecast request
        await stream.wait_for(lambda m: m["type"] == "subscribed", since=0)
        book.add("WTI", 66.0)
        seq = await server.broadcast_forecast_update("WTI", 7)
        await stream.wait_for(lambda m: m.get("seq") == seq, since=0)
        assert stream.last_seq[Topic("WTI", 7)] == seq
        await server.stop()
        await asyncio.sleep(0.2)
        assert stream.state.connected is False and stream.state.last_error
        book.add("WTI", 67.0)  # a new price arrives while the server is down
        server = LiveServer(forecaster, LiveConfig(port=port))
        await server.start()
        resync = await stream.wait_for(lambda m: m["type"] == "resync", since=0, timeout=10)
        assert resync["points"][0]["mean"] == pytest.approx(67.0)
        assert stream.state.connected and stream.state.reconnects >= 1
        book.add("WTI", 68.0)
        seq2 = await server.broadcast_forecast_update("WTI", 7)
        live = await stream.wait_for(lambda m: m.get("seq") == seq2, since=0)
        assert live["points"][0]["mean"] == pytest.approx(68.0)
        assert updates[-1] is live and statuses[0] is True and False in statuses
    finally:
        await stream.stop()
        await server.stop()


async def test_forecast_stream_commands_and_errors(make_server) -> None:
    server = await make_server()
    stream = ForecastStream(server.url, api_key="", reconnect_interval=0.05,
                            request_initial=False)
    stream.start()
    try:
        await stream.wait_connected()
        await stream.subscribe("brent", 4)
        await stream.wait_for(lambda m: m["type"] == "subscribed", since=0)
        await stream.request("NG", 2)
        reply = await stream.wait_for(lambda m: m["type"] == "forecast_update", since=0)
        assert (reply["commodity"], len(reply["points"])) == ("NG", 2)
        await stream.ping()
        await stream.wait_for(lambda m: m["type"] == "pong", since=0)
        await stream.unsubscribe("BRENT", 4)
        await stream.wait_for(lambda m: m["type"] == "unsubscribed", since=0)
        assert server.stats()["subscribers"] == 0
        await stream._send({"action": "bogus"})
        await stream.wait_for(lambda m: m["type"] == "error", since=0)
        assert stream.state.last_error_code == "unknown_action"
        with pytest.raises(protocol.ProtocolError):
            await stream.subscribe("gold", 1)
    finally:
        await stream.stop()


async def test_forecast_stream_reports_401_and_keeps_retrying(make_server) -> None:
    server = await make_server(api_key="right")
    stream = ForecastStream(server.url, api_key="wrong", reconnect_interval=0.05,
                            max_interval=0.1)
    stream.start()
    try:
        for _ in range(100):
            if stream.state.reconnects >= 2:
                break
            await asyncio.sleep(0.05)
        assert stream.state.last_error == "HTTP 401 from server"
        assert not stream.state.connected and stream.state.reconnects >= 2
    finally:
        await stream.stop()


def open_stalled_client(port: int, path: str) -> socket.socket:
    """A raw WebSocket client that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


async def test_slow_consumer_does_not_delay_others_and_stays_bounded(make_server) -> None:
    server = await make_server(send_high_water=64 * 1024, close_timeout=0.3)
    stalled = await asyncio.to_thread(open_stalled_client, server.port,
                                      "/api/v1/ws/forecast?commodity=WTI&horizon=30")
    topic = Topic("WTI", 30)
    big = {"model": "m", "as_of": "2025-01-02", "levels": [80],
           "points": [{"date": "2025-01-03", "mean": float(i), "lower_80": 0.0,
                       "upper_80": 1.0} for i in range(1500)]}  # ~80 KB per update
    size = len(protocol.encode(protocol.forecast_update(topic, big, "1-0")))
    try:
        async with websockets.connect(server.url + "?commodity=WTI&horizon=30",
                                      max_size=None) as fast:
            await recv_json(fast)
            for _ in range(50):
                if server.stats()["subscribers"] == 2:
                    break
                await asyncio.sleep(0.02)
            started = time.perf_counter()
            seqs = []
            for i in range(80):  # ~6 MB for the stalled client, which reads nothing
                big["as_of"] = f"update-{i}"
                seqs.append(await server.publish_forecast(topic, big))
                message = await recv_json(fast)
                assert message["seq"] == seqs[-1]
            elapsed = time.perf_counter() - started
        slow_info = next(iter(server.connections.values()))
        buffered = slow_info.ws.transport.get_write_buffer_size()
        assert elapsed < 5.0
        assert server.counters["superseded_updates"] > 0
        # bounded: one outbox entry per topic plus what was in flight
        assert len(slow_info.outbox) <= 1
        assert buffered <= server.config.send_high_water + 2 ** 15 + 2 * size
        assert max(server.broadcast_seconds) < 0.5
    finally:
        stalled.close()


def send_text_frames(sock: socket.socket, texts: list[str]) -> None:
    """Send masked text frames (as a client must) on a raw socket."""
    sock.sendall(b"".join(Frame(Opcode.TEXT, text.encode()).serialize(mask=True, extensions=[])
                          for text in texts))


async def test_client_that_stops_reading_is_dropped_and_its_slot_freed(make_server) -> None:
    """Issue 13.1: a raw client with a 4 KiB receive buffer subscribes to all 90 topics under a
    fast feed and never reads; the heartbeat alone never drops it (ping waits for the buffer to
    drain). The write deadline closes it, frees its slot, and a reading client keeps working."""
    # the first heartbeat ping comes after the send buffer is full (as with the default 20 s)
    server = await make_server(rate=1e6, burst=10**6, max_connections=2, write_timeout=1.0,
                               ping_interval=5.0, ping_timeout=1.0, close_timeout=0.3)
    topics = [Topic(c, h) for c in ("WTI", "BRENT", "NG") for h in range(1, 31)]
    stalled = await asyncio.to_thread(open_stalled_client, server.port, "/api/v1/ws/forecast")
    payload = await server.compute_forecast(Topic("WTI", 30))  # ~3.6 KB per update

    async def feed() -> None:  # every topic, 20 times a second (~6 MB/s for the stalled one)
        while True:
            for topic in topics:
                await server.publish_forecast(topic, payload)
            await asyncio.sleep(0.05)

    feeding = None
    try:
        async with websockets.connect(server.url + "?commodity=NG&horizon=30") as reader:
            await recv_json(reader)
            send_text_frames(stalled, [json.dumps({"action": "subscribe", **t.as_dict()})
                                       for t in topics])
            for _ in range(100):
                if server.stats()["subscribers"] == 91:
                    break
                await asyncio.sleep(0.02)
            assert server.stats()["subscribers"] == 91
            feeding = asyncio.ensure_future(feed())
            started = time.monotonic()
            while server.stats()["connections"] == 2 and time.monotonic() - started < 15:
                update = await recv_json(reader)  # the reading client is served meanwhile
                assert update["type"] == "forecast_update"
            dropped_after = time.monotonic() - started
            assert server.stats()["connections"] == 1, "the stalled client was never dropped"
            assert dropped_after < 10
            assert server.counters["write_timeouts"] == 1
            assert server.stats()["subscribers"] == 1  # its 90 subscriptions are gone
            # its slot is free (max_connections=2), and the reader still gets every topic update
            async with websockets.connect(server.url) as third:
                assert (await recv_json(third))["type"] == "welcome"
            seq = await server.publish_forecast(Topic("NG", 30), payload)
            while (update := await recv_json(reader))["seq"] != seq:
                assert update["type"] == "forecast_update"
            await reader.send('{"action": "ping", "id": "after"}')
            while (reply := await recv_json(reader))["type"] != "pong":
                pass
            assert reply["id"] == "after"
    finally:
        if feeding is not None:
            feeding.cancel()
        stalled.close()
