"""The live server over real sockets on 127.0.0.1: protocol, HTTP routes, security and limits."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from energy_nb.stream import protocol

pytestmark = pytest.mark.timeout(60)


async def recv_json(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_type(ws: Any, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    while True:
        message = await recv_json(ws, timeout)
        if message["type"] == kind:
            return message


async def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    def fetch() -> tuple[int, str, str]:
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.headers["Content-Type"], response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()

    return await asyncio.to_thread(fetch)


async def test_plain_websockets_client_from_the_issue_receives_updates(make_server, book) -> None:
    server = await make_server()
    url = f"ws://127.0.0.1:{server.port}/api/v1/ws/forecast?commodity=WTI&horizon=7"
    async with websockets.connect(url) as ws:
        welcome = await recv_json(ws)
        assert welcome["type"] == "welcome"
        assert welcome["subscriptions"] == [{"commodity": "WTI", "horizon": 7}]
        assert welcome["commodities"] == ["WTI", "BRENT", "NG"]
        assert welcome["horizon_range"] == [1, 30]
        await ws.send(json.dumps({"action": "subscribe", "commodity": "WTI", "horizon": 7}))
        assert (await recv_json(ws))["type"] == "subscribed"
        seqs, as_of = [], []
        for price in (71.0, 90.0, 55.5):
            day = book.add("WTI", price)
            published = await server.broadcast_forecast_update("WTI", horizon=7)
            update = await recv_json(ws)
            assert update["type"] == "forecast_update"
            assert (update["commodity"], update["horizon"], update["seq"]) == ("WTI", 7, published)
            assert update["as_of"] == day.strftime("%Y-%m-%d")
            assert len(update["points"]) == 7
            # random walk: the forecast mean is the newest price
            assert update["points"][0]["mean"] == pytest.approx(price)
            assert update["points"][0]["lower_95"] < price < update["points"][0]["upper_95"]
            seqs.append(update["seq"])
            as_of.append(update["as_of"])
        assert sorted(seqs, key=protocol.seq_key) == seqs and len(set(seqs)) == 3
        assert server.stats()["subscribers"] == 1


async def test_other_topics_are_not_delivered_and_unsubscribe_stops_updates(make_server) -> None:
    server = await make_server()
    async with websockets.connect(server.url) as ws:
        assert (await recv_json(ws))["subscriptions"] == []
        await ws.send('{"action": "subscribe", "commodity": "ng", "horizon": 3, "id": 1}')
        reply = await recv_json(ws)
        assert reply == {"type": "subscribed", "commodity": "NG", "horizon": 3, "seq": None,
                         "id": 1}
        await server.broadcast_forecast_update("BRENT", 3)
        await server.broadcast_forecast_update("NG", 3)
        update = await recv_json(ws)
        assert (update["commodity"], update["horizon"]) == ("NG", 3)
        await ws.send('{"action": "unsubscribe", "commodity": "NG", "horizon": 3}')
        assert (await recv_json(ws))["type"] == "unsubscribed"
        await server.broadcast_forecast_update("NG", 3)
        await ws.send('{"action": "unsubscribe", "commodity": "NG", "horizon": 3}')
        error = await recv_json(ws)  # no update in between
        assert (error["type"], error["code"]) == ("error", "not_subscribed")
        # a new subscription reports the latest seq of the topic
        await ws.send('{"action": "subscribe", "commodity": "NG", "horizon": 3}')
        assert (await recv_json(ws))["seq"] == (await server.broker.latest(
            protocol.Topic("NG", 3)))[0]


async def test_forecast_action_replies_to_this_connection_only(make_server) -> None:
    server = await make_server()
    async with websockets.connect(server.url + "?commodity=WTI&horizon=2") as other, \
            websockets.connect(server.url) as ws:
        await recv_json(other)
        await recv_json(ws)
        await ws.send('{"action": "forecast", "commodity": "brent", "horizon": 4, "id": "x"}')
        reply = await recv_json(ws)
        assert reply["type"] == "forecast_update" and reply["seq"] is None
        assert (reply["commodity"], reply["horizon"], reply["id"]) == ("BRENT", 4, "x")
        assert len(reply["points"]) == 4
        await other.send('{"action": "ping"}')
        assert (await recv_json(other))["type"] == "pong"  # nothing else arrived there


async def test_forecast_failure_is_an_error_and_the_connection_stays(make_server) -> None:
    def failing(commodity: str, horizon: int) -> dict[str, Any]:
        raise RuntimeError(f"no data for {commodity}")

    server = await make_server(forecast_fn=failing)
    async with websockets.connect(server.url) as ws:
        await recv_json(ws)
        await ws.send('{"action": "forecast", "commodity": "WTI", "horizon": 4}')
        error = await recv_json(ws)
        assert error["code"] == "forecast_failed" and "no data for WTI" in error["message"]
        await ws.send('{"action": "ping"}')
        assert (await recv_json(ws))["type"] == "pong"


BAD_FRAMES = [
    ("hello", "invalid_json"),
    ("[]", "not_an_object"),
    ('{"commodity": "WTI"}', "missing_field"),
    ('{"action": "dance"}', "unknown_action"),
    ('{"action": "subscribe", "commodity": "COAL", "horizon": 7}', "unknown_commodity"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": 45}', "invalid_horizon"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": "7"}', "invalid_horizon"),
    ('{"action": "subscribe", "commodity": "WTI"}', "missing_field"),
    (b"\x00\x01binary", "binary_not_supported"),
]


async def test_every_bad_message_gets_an_error_and_the_connection_stays_usable(make_server) -> None:
    server = await make_server()
    async with websockets.connect(server.url) as ws:
        await recv_json(ws)
        for frame, code in BAD_FRAMES:
            await ws.send(frame)
            error = await recv_json(ws)
            assert (error["type"], error["code"]) == ("error", code), frame
            assert error["message"]
        await ws.send('{"action": "ping", "id": 9}')
        assert (await recv_json(ws)) | {"server_time": None} == {
            "type": "pong", "server_time": None, "id": 9}
    assert server.stats()["errors_sent"] == len(BAD_FRAMES)


async def test_error_replies_echo_the_request_id(make_server) -> None:
    """Issue 13.3: every error answering a JSON object with an ``id`` carries that id."""
    server = await make_server(max_subscriptions=1)
    async with websockets.connect(server.url) as ws:
        await recv_json(ws)
        frames = [(frame, code) for frame, code in BAD_FRAMES
                  if isinstance(frame, str) and frame.startswith("{")] + [
            ('{"action": "subscribe", "commodity": "WTI", "horizon": 7, "last_seq": 5}',
             "invalid_last_seq"),
            ('{"action": "unsubscribe", "commodity": "NG", "horizon": 2}', "not_subscribed"),
        ]
        for n, (frame, code) in enumerate(frames):
            await ws.send(json.dumps({**json.loads(frame), "id": f"r{n}"}))
            error = await recv_json(ws)
            assert (error["type"], error["code"], error.get("id")) == ("error", code, f"r{n}")
        await ws.send('{"action": "subscribe", "commodity": "XAU", "horizon": 7, "id": "r1"}')
        assert await recv_json(ws) == {
            "type": "error", "code": "unknown_commodity", "action": "subscribe", "id": "r1",
            "message": "unknown commodity 'XAU'; expected one of WTI, BRENT, NG"}
        await ws.send('{"action": "subscribe", "commodity": "WTI", "horizon": 1, "id": 5}')
        assert (await recv_json(ws))["id"] == 5
        await ws.send('{"action": "subscribe", "commodity": "WTI", "horizon": 2, "id": 6}')
        assert (await recv_json(ws))["code"] == "too_many_subscriptions"
        await ws.send('["not", "an", "object"]')  # no id to echo
        assert "id" not in await recv_json(ws)


async def test_bad_query_topic_gets_welcome_then_error(make_server) -> None:
    server = await make_server()
    async with websockets.connect(server.url + "?commodity=gold&horizon=7") as ws:
        welcome = await recv_json(ws)
        assert welcome["type"] == "welcome" and welcome["subscriptions"] == []
        assert (await recv_json(ws))["code"] == "unknown_commodity"


async def test_http_routes_on_the_same_port(make_server) -> None:
    server = await make_server()
    base = f"http://127.0.0.1:{server.port}"
    async with websockets.connect(server.url + "?commodity=WTI&horizon=7") as ws:
        await recv_json(ws)
        status, ctype, body = await http_get(base + "/healthz")
        assert status == 200 and ctype == "application/json"
        assert json.loads(body) == {"status": "ok", "connections": 1}
        status, _, body = await http_get(base + "/api/v1/ws/stats?detail=1")
        stats = json.loads(body)
        assert status == 200 and stats["connections"] == 1 and stats["topics"] == {"WTI:7": 1}
        conn = stats["connection_list"][0]
        assert conn["subscriptions"] == ["WTI:7"] and conn["remote_address"] == "127.0.0.1"
        assert conn["messages_out"] == 1 and conn["connected_since"]
    status, ctype, body = await http_get(base + "/api/docs")
    assert status == 200 and ctype.startswith("text/markdown")
    assert "forecast_update" in body and "rate_limited" in body
    status, _, _ = await http_get(base + "/nope")
    assert status == 404


async def test_api_key_required_before_upgrade_and_never_logged(make_server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "s3cr3t-key-value"
    server = await make_server(api_key=secret)
    for url, headers in ((server.url, None), (server.url + "?api_key=wrong", None),
                         (server.url, {"X-API-Key": "nope"})):
        with pytest.raises(InvalidStatus) as info:
            async with websockets.connect(url, additional_headers=headers):
                pass
        assert info.value.response.status_code == 401
    async with websockets.connect(server.url + f"?api_key={secret}&commodity=WTI&horizon=1") as ws:
        assert (await recv_json(ws))["subscriptions"] == [{"commodity": "WTI", "horizon": 1}]
    async with websockets.connect(server.url, additional_headers={"X-API-Key": secret}) as ws:
        assert (await recv_json(ws))["type"] == "welcome"
    base = f"http://127.0.0.1:{server.port}"
    assert (await http_get(base + "/api/v1/ws/stats"))[0] == 401
    assert (await http_get(base + "/api/v1/ws/stats", {"X-API-Key": secret}))[0] == 200
    assert (await http_get(base + "/healthz"))[0] == 200
    server_records = [r for r in caplog.records if r.name.startswith("energy_nb")]
    assert any("X-API-Key" in r.getMessage() for r in server_records), "debug logs captured"
    assert all(secret not in r.getMessage() for r in server_records)


async def test_two_api_key_headers_are_a_client_error_not_a_crash(make_server, caplog) -> None:
    """Issue 13.9: two ``X-API-Key`` headers gave HTTP 500 (MultipleValuesError)."""
    caplog.set_level(logging.INFO)
    server = await make_server(api_key="k")
    for keys in (["k", "k"], ["k", "wrong"], ["wrong", "k"]):
        with pytest.raises(InvalidStatus) as info:
            async with websockets.connect(server.url, additional_headers=[
                    ("X-API-Key", key) for key in keys]):
                pass
        assert info.value.response.status_code == 400
        assert b"X-API-Key" in info.value.response.body
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(server.url + "?api_key=k&api_key=k"):
            pass
    assert info.value.response.status_code == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with websockets.connect(server.url, additional_headers={"X-API-Key": "k"}) as ws:
        assert (await recv_json(ws))["type"] == "welcome"


async def test_origin_allowlist(make_server) -> None:
    server = await make_server()  # default: localhost pages and non-browser clients
    async with websockets.connect(server.url, origin="http://localhost:8866") as ws:
        assert (await recv_json(ws))["type"] == "welcome"
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(server.url, origin="https://evil.example"):
            pass
    assert info.value.response.status_code == 403
    strict = await make_server(allowed_origins=["https://desk.example"])
    async with websockets.connect(strict.url, origin="https://desk.example") as ws:
        assert (await recv_json(ws))["type"] == "welcome"
    for origin in ("http://localhost:8866", None):
        with pytest.raises(InvalidStatus):
            async with websockets.connect(strict.url, origin=origin):
                pass


async def test_message_size_limits(make_server) -> None:
    server = await make_server(hard_max_bytes=256 * 1024)
    async with websockets.connect(server.url, max_size=None) as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"action": "ping", "pad": "x" * (64 * 1024)}))
        assert (await recv_json(ws))["code"] == "message_too_large"
        await ws.send('{"action": "ping"}')
        assert (await recv_json(ws))["type"] == "pong"
        await ws.send("x" * (300 * 1024))
        with pytest.raises(ConnectionClosed) as info:
            await recv_json(ws)
        assert info.value.rcvd.code == 1009


async def test_rate_limit_then_close_on_persistent_abuse(make_server) -> None:
    server = await make_server(rate=5, burst=5, abuse_limit=10)
    async with websockets.connect(server.url) as ws:
        await recv_json(ws)
        for _ in range(8):
            await ws.send('{"action": "ping"}')
        replies = [await recv_json(ws) for _ in range(8)]
        kinds = [r.get("code", r["type"]) for r in replies]
        assert kinds[:5] == ["pong"] * 5 and set(kinds[5:]) == {"rate_limited"}
        await asyncio.sleep(0.5)  # tokens refill: usable again
        await ws.send('{"action": "ping"}')
        assert (await recv_json(ws))["type"] == "pong"
        with pytest.raises(ConnectionClosed) as info:
            for _ in range(40):
                await ws.send('{"action": "ping"}')
            while True:
                await recv_json(ws)
        assert info.value.rcvd.code == 1008


async def test_connection_limits_close_with_1013(make_server) -> None:
    server = await make_server(max_connections=3, max_per_address=2)
    async with websockets.connect(server.url) as a, websockets.connect(server.url) as b:
        await recv_json(a)
        await recv_json(b)
        async with websockets.connect(server.url) as c:
            with pytest.raises(ConnectionClosed) as info:
                await recv_json(c)
            assert info.value.rcvd.code == 1013
    assert server.stats()["rejected_full"] == 1
    total = await make_server(max_connections=1, max_per_address=None)
    async with websockets.connect(total.url) as a:
        await recv_json(a)
        async with websockets.connect(total.url) as b:
            with pytest.raises(ConnectionClosed) as info:
                await recv_json(b)
            assert info.value.rcvd.code == 1013
    # the slot is free again
    async with websockets.connect(total.url) as a:
        assert (await recv_json(a))["type"] == "welcome"


async def test_connections_in_the_handshake_count_against_the_per_address_cap(
        make_server) -> None:
    """Issue 13.2: half-open sockets (TCP connected, no HTTP request) from one address hold at
    most the per-address cap (+1 that may still be told 1013); older ones are dropped."""
    server = await make_server(max_per_address=3)
    attackers = []
    try:
        for _ in range(10):
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", server.port))
            attackers.append(sock)
        for _ in range(100):
            if server.stats()["handshakes_dropped"] >= 6:
                break
            await asyncio.sleep(0.02)
        assert server.stats()["handshakes_dropped"] == 6
        async with websockets.connect(server.url) as ws:  # another address is not affected
            assert (await recv_json(ws))["type"] == "welcome"
        # the attacker's address: a real client evicts the oldest half-open socket and gets in
        async with websockets.connect(server.url, local_addr=("127.0.0.2", 0)) as ws:
            assert (await recv_json(ws))["type"] == "welcome"
        assert server.stats()["handshakes_dropped"] == 7
    finally:
        for sock in attackers:
            sock.close()


async def test_stop_does_not_wait_for_half_open_sockets(make_server) -> None:
    server = await make_server()  # open timeout 10 s
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    try:
        for _ in range(100):
            if server.admission.total == 20:
                break
            await asyncio.sleep(0.02)
        assert server.admission.total == 20
        started = asyncio.get_running_loop().time()
        await server.stop()
        assert asyncio.get_running_loop().time() - started < 3
        assert server.admission.total == 0
    finally:
        for sock in sockets:
            sock.close()


async def test_idle_timeout_closes_only_idle_unsubscribed_connections(make_server) -> None:
    server = await make_server(idle_timeout=0.3)
    async with websockets.connect(server.url) as idle, \
            websockets.connect(server.url + "?commodity=WTI&horizon=1") as listening:
        await recv_json(idle)
        await recv_json(listening)
        with pytest.raises(ConnectionClosed) as info:
            await recv_json(idle, timeout=3)
        assert info.value.rcvd.code == 1000 and "idle" in info.value.rcvd.reason
        await asyncio.sleep(0.4)
        await listening.send('{"action": "ping"}')
        assert (await recv_json(listening))["type"] == "pong"


async def test_heartbeat_drops_a_dead_peer(make_server) -> None:
    server = await make_server(ping_interval=0.2, ping_timeout=0.2, close_timeout=0.3)
    # a client that never answers pings (its keepalive reader is stopped by pausing reading)
    ws = await websockets.connect(server.url)
    await recv_json(ws)
    ws.transport.pause_reading()
    for _ in range(50):
        if not server.connections:
            break
        await asyncio.sleep(0.1)
    assert server.connections == {}
    ws.transport.abort()


async def test_subscription_limit_and_duplicate_subscribe(make_server) -> None:
    server = await make_server(max_subscriptions=2)
    async with websockets.connect(server.url + "?commodity=WTI&horizon=1") as ws:
        await recv_json(ws)
        for h in (1, 2, 3):  # WTI:1 again is a no-op, WTI:2 fills the limit, WTI:3 is refused
            await ws.send(json.dumps({"action": "subscribe", "commodity": "WTI", "horizon": h}))
        replies = [await recv_json(ws) for _ in range(3)]
        assert [r["type"] for r in replies] == ["subscribed", "subscribed", "error"]
        assert replies[2]["code"] == "too_many_subscriptions"
        await server.broadcast_forecast_update("WTI", 1)
        assert (await recv_json(ws))["horizon"] == 1
        await ws.send('{"action": "ping"}')
        assert (await recv_json(ws))["type"] == "pong"  # exactly one delivery per update
