"""Hypothesis fuzz of the message handler over a real socket: no input crashes the server or
another connection, every reply is a valid protocol message, the connection stays usable."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from energy_nb.live.forecasting import ModelForecaster
from tests.live.conftest import PriceBook, ServerThread

pytestmark = pytest.mark.timeout(120)

SERVER_TYPES = {"welcome", "subscribed", "unsubscribed", "pong", "forecast_update", "resync",
                "error"}


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ServerThread]:
    thread = ServerThread(ModelForecaster(PriceBook(60), model="random_walk", history_days=None),
                          rate=1e6, burst=10**6)
    yield thread
    thread.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
actions = st.sampled_from(["subscribe", "unsubscribe", "forecast", "ping", "Subscribe", "", "x"])
commodities = st.sampled_from(["WTI", "brent", "Ng", "gold", "", " wti "]) | st.text(max_size=6) \
    | st.integers() | st.none()
horizons = st.integers(-3, 40) | st.floats() | st.text(max_size=3) | st.none() | st.booleans()
last_seqs = st.none() | st.text(max_size=12) | st.integers() \
    | st.builds(lambda a, b: f"{a}-{b}", st.integers(0, 2**64), st.integers(0, 99))
structured = st.fixed_dictionaries(
    {"action": actions},
    optional={"commodity": commodities, "horizon": horizons, "last_seq": last_seqs,
              "id": st.text(max_size=80) | st.integers() | json_values},
).map(lambda d: json.dumps(d, allow_nan=True))
frames = (structured | json_values.map(lambda v: json.dumps(v, allow_nan=True))
          | st.text(max_size=60) | st.binary(max_size=60))


#: Fuzzed messages per run (each followed by a ping); issue 13 asks for at least 2,000 in CI.
FUZZ_EXAMPLES, MESSAGES_PER_EXAMPLE = 400, (5, 8)


def expected_id(frame: str | bytes) -> str | int | None:
    """The ``id`` the server must echo for a frame: a JSON object's str (cut to 64) or int id."""
    if not isinstance(frame, str):
        return None
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return value[:64] if isinstance(value, str) else value


def test_fuzzed_messages_each_followed_by_a_ping(fuzz_server: ServerThread) -> None:
    """At least 2,000 fuzzed messages over a real socket, each followed by a ``ping``: every
    reply is a valid protocol message, every error echoes the message's id (issue 13.3), no
    internal error, and the server keeps answering this connection and a bystander."""
    url = fuzz_server.server.url
    sent = 0

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(batch=st.lists(frames, min_size=MESSAGES_PER_EXAMPLE[0],
                          max_size=MESSAGES_PER_EXAMPLE[1]))
    def run(batch: list[str | bytes]) -> None:
        nonlocal sent
        with connect(url, open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
            for frame in batch:
                ws.send(frame)
                sent += 1
                marker = f"\u2603fuzz-ping-{sent}"
                ws.send(json.dumps({"action": "ping", "id": marker}))
                want = expected_id(frame)
                while True:
                    reply = json.loads(ws.recv(timeout=10))
                    assert reply["type"] in SERVER_TYPES, reply
                    if reply["type"] == "pong" and reply.get("id") == marker:
                        break
                    if reply["type"] == "error":
                        assert isinstance(reply["code"], str) and reply["message"], reply
                        assert reply["code"] != "internal_error", (frame, reply)
                        assert reply.get("id") == want, (frame, reply)
        bystander.send('{"action": "ping", "id": "bystander"}')
        assert json.loads(bystander.recv(timeout=5))["id"] == "bystander"

    with connect(url, open_timeout=5) as bystander:
        assert json.loads(bystander.recv(timeout=5))["type"] == "welcome"
        run()
    assert sent >= FUZZ_EXAMPLES * MESSAGES_PER_EXAMPLE[0] >= 2000
    assert fuzz_server.server.stats()["messages_in"] >= 2 * sent
    port = fuzz_server.server.port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert json.loads(response.read())["status"] == "ok"
