"""Hypothesis fuzz of the message handler over a real socket: no input crashes the server or
another connection, every reply is a valid protocol message, the connection stays usable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

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
              "id": json_values},
).map(lambda d: json.dumps(d, allow_nan=True))
frames = (structured | json_values.map(lambda v: json.dumps(v, allow_nan=True))
          | st.text(max_size=60) | st.binary(max_size=60))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(batch=st.lists(frames, min_size=1, max_size=4))
def test_fuzzed_frames_get_valid_replies_and_never_break_the_server(
        fuzz_server: ServerThread, batch: list[Any]) -> None:
    url = fuzz_server.server.url
    with connect(url, open_timeout=5) as ws, connect(url, open_timeout=5) as bystander:
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
        assert json.loads(bystander.recv(timeout=5))["type"] == "welcome"
        for frame in batch:
            ws.send(frame)
        marker = "fuzz-end"
        ws.send(json.dumps({"action": "ping", "id": marker}))
        while True:
            reply = json.loads(ws.recv(timeout=10))
            assert reply["type"] in SERVER_TYPES, reply
            if reply["type"] == "error":
                assert isinstance(reply["code"], str) and reply["message"]
                assert reply["code"] != "internal_error", reply
            if reply["type"] == "pong" and reply.get("id") == marker:
                break
        bystander.send('{"action": "ping"}')
        assert json.loads(bystander.recv(timeout=5))["type"] == "pong"
