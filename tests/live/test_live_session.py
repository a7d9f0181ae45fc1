"""The live connection rules as a pure object: no socket, no event loop, a fake clock."""

from __future__ import annotations

import json

import pytest

from energy_nb.stream import protocol
from energy_nb.stream.protocol import Topic
from energy_nb.live.session import (
    RESYNC_REASON,
    Close,
    ComputeForecast,
    LiveSession,
    Send,
    SessionLimits,
    Subscribe,
    Unsubscribe,
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frame(message: dict) -> str:
    return json.dumps(message)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, **limits: object) -> LiveSession:
    return LiveSession("conn-1", SessionLimits(**limits), clock=clock)  # type: ignore[arg-type]


def test_open_with_query_topic_subscribes_silently_and_welcomes(clock: FakeClock) -> None:
    session = make(clock)
    events = session.open("wti", "7")
    assert events[0] == Subscribe(Topic("WTI", 7), announce=False)
    welcome = events[1]
    assert isinstance(welcome, Send) and welcome.message["type"] == "welcome"
    assert welcome.message["subscriptions"] == [{"commodity": "WTI", "horizon": 7}]
    assert session.topics == {Topic("WTI", 7)}


def test_open_with_bad_query_welcomes_then_errors(clock: FakeClock) -> None:
    events = make(clock).open("wti", None)
    assert [e.message["type"] for e in events if isinstance(e, Send)] == ["welcome", "error"]
    assert events[1].message["code"] == "missing_field"


def test_rate_limited_errors_echo_the_id_of_the_dropped_message(clock: FakeClock) -> None:
    session = make(clock, rate=1.0, burst=1, abuse_limit=100)
    assert session.receive(frame({"action": "ping", "id": "a"}))[0].message["type"] == "pong"
    refused = session.receive(frame({"action": "ping", "id": "r2"}))[0].message
    assert refused["code"] == "rate_limited" and refused["id"] == "r2"
    refused = session.receive(frame({"action": "subscribe", "id": 7}))[0].message
    assert refused["code"] == "rate_limited" and refused["id"] == 7
    refused = session.receive("not json")[0].message  # nothing to echo
    assert refused["code"] == "rate_limited" and "id" not in refused


def test_rate_limit_refills_with_the_injected_clock(clock: FakeClock) -> None:
    session = make(clock, rate=2.0, burst=3, abuse_limit=100)
    ping = frame({"action": "ping"})
    replies = [session.receive(ping)[0].message["type"] for _ in range(4)]
    assert replies == ["pong", "pong", "pong", "error"]
    assert session.rate_limited == 1
    clock.now += 0.4  # 0.8 token: still refused
    assert session.receive(ping)[0].message["code"] == "rate_limited"
    clock.now += 0.2  # one token more since the last refusal refilled 0.8 + 0.4
    assert session.receive(ping)[0].message["type"] == "pong"


def test_persistent_abuse_closes_with_1008_then_ignores_frames(clock: FakeClock) -> None:
    session = make(clock, rate=1.0, burst=1, abuse_limit=3, abuse_window=10.0)
    ping = frame({"action": "ping"})
    assert session.receive(ping)[0].message["type"] == "pong"
    assert session.receive(ping)[0].message["code"] == "rate_limited"
    assert session.receive(ping)[0].message["code"] == "rate_limited"
    assert session.receive(ping) == [Close(1008, "rate limit exceeded persistently")]
    assert session.closing
    clock.now += 100
    assert session.receive(ping) == []


def test_abuse_count_restarts_after_its_window(clock: FakeClock) -> None:
    session = make(clock, rate=0.001, burst=1, abuse_limit=2, abuse_window=5.0)
    ping = frame({"action": "ping"})
    session.receive(ping)
    assert session.receive(ping)[0].message["code"] == "rate_limited"
    clock.now += 6.0  # window over: the count restarts, no close
    assert session.receive(ping)[0].message["code"] == "rate_limited"
    assert not session.closing


def test_subscription_cap_and_echoed_id(clock: FakeClock) -> None:
    session = make(clock, max_subscriptions=2)
    assert session.receive(frame({"action": "subscribe", "commodity": "wti", "horizon": 1,
                                  "id": "a"})) == [Subscribe(Topic("WTI", 1), None, "a")]
    session.receive(frame({"action": "subscribe", "commodity": "ng", "horizon": 2}))
    # the same topic again is not a new subscription
    assert session.receive(frame({"action": "subscribe", "commodity": "NG", "horizon": 2}))[0] \
        == Subscribe(Topic("NG", 2))
    refused = session.receive(frame({"action": "subscribe", "commodity": "brent",
                                     "horizon": 3, "id": 42}))
    assert len(refused) == 1 and isinstance(refused[0], Send)
    assert refused[0].message == {"type": "error", "code": "too_many_subscriptions",
                                  "message": "at most 2 subscriptions",
                                  "action": "subscribe", "id": 42}
    assert session.topics == {Topic("WTI", 1), Topic("NG", 2)}


def test_unsubscribe_and_not_subscribed(clock: FakeClock) -> None:
    session = make(clock)
    session.receive(frame({"action": "subscribe", "commodity": "wti", "horizon": 5}))
    events = session.receive(frame({"action": "unsubscribe", "commodity": "wti", "horizon": 5,
                                    "id": 9}))
    assert events[0] == Unsubscribe(Topic("WTI", 5))
    assert events[1].message == {"type": "unsubscribed", "commodity": "WTI", "horizon": 5, "id": 9}
    again = session.receive(frame({"action": "unsubscribe", "commodity": "wti", "horizon": 5,
                                   "id": "x"}))
    assert again[0].message["code"] == "not_subscribed" and again[0].message["id"] == "x"


@pytest.mark.parametrize(("raw", "code", "rid"), [
    ("{not json", "invalid_json", None),
    ("[1, 2]", "not_an_object", None),
    (b"\x00\x01", "binary_not_supported", None),
    ('{"action": "fly", "id": "r1"}', "unknown_action", "r1"),
    ('{"action": "forecast", "commodity": "gold", "horizon": 3, "id": 5}',
     "unknown_commodity", 5),
    ('{"action": "forecast", "commodity": "wti", "horizon": 31, "id": 6}', "invalid_horizon", 6),
    ('{"action": "subscribe", "commodity": "wti", "horizon": 3, "last_seq": "x", "id": 7}',
     "invalid_last_seq", 7),
])
def test_errors_carry_the_code_and_the_request_id(clock: FakeClock, raw: str | bytes, code: str,
                                                   rid: object) -> None:
    (event,) = make(clock).receive(raw)
    assert isinstance(event, Send) and event.is_error
    assert event.message["code"] == code
    assert event.message.get("id") == rid


def test_size_limit_from_the_limits(clock: FakeClock) -> None:
    session = make(clock, max_message_bytes=50)
    (event,) = session.receive(frame({"action": "ping", "pad": "x" * 60}))
    assert event.message["code"] == "message_too_large"
    assert "50 bytes" in event.message["message"]


def test_forecast_action_asks_the_server_and_formats_the_reply(clock: FakeClock) -> None:
    session = make(clock)
    (event,) = session.receive(frame({"action": "forecast", "commodity": "brent", "horizon": 2,
                                      "id": "f"}))
    assert event == ComputeForecast(Topic("BRENT", 2), "f")
    reply = session.forecast_reply(event.topic, {"model": "m", "as_of": "2025-01-02",
                                                 "points": []}, "f")
    assert reply["type"] == "forecast_update" and reply["seq"] is None and reply["id"] == "f"
    failed = session.forecast_failed(event.topic, "boom", "f")
    assert failed["code"] == "forecast_failed" and failed["id"] == "f"
    assert failed["message"] == "forecast for BRENT:2 failed: boom"


def test_resume_plan_sends_the_backlog_or_decides_a_resync() -> None:
    backlog = [("5-0", {"type": "forecast_update", "seq": None}),
               ("6-0", {"type": "forecast_update", "seq": None})]
    plan = LiveSession.plan_resume("4-0", backlog)
    assert not plan.resync and plan.sent == "6-0"
    assert [m["seq"] for m in plan.messages] == ["5-0", "6-0"]
    nothing_missed = LiveSession.plan_resume("6-0", [])
    assert nothing_missed.messages == [] and not nothing_missed.resync
    assert nothing_missed.sent == "6-0"
    gone = LiveSession.plan_resume("1-0", None)
    assert gone.resync and gone.messages == [] and RESYNC_REASON == "trimmed_or_unknown"


def test_release_held_keeps_only_updates_after_what_was_sent() -> None:
    held = [("5-0", "a"), ("6-0", "b"), ("10-0", "c"), ("6-1", "d")]
    assert LiveSession.release_held(held, "6-0") == ["c", "d"]


def test_idle_only_without_subscriptions(clock: FakeClock) -> None:
    session = make(clock)
    session.receive(frame({"action": "ping"}))
    clock.now += 299
    assert not session.is_idle(300)
    clock.now += 1
    assert session.is_idle(300) and not session.is_idle(None)
    session.receive(frame({"action": "subscribe", "commodity": "wti", "horizon": 1}))
    clock.now += 1000
    assert not session.is_idle(300)


def test_client_message_builders_round_trip_through_the_parser() -> None:
    topic = Topic("NG", 4)
    built = [protocol.subscribe_request(topic, last_seq="17-2", request_id=1),
             protocol.unsubscribe_request(topic, request_id="u"),
             protocol.forecast_request(topic), protocol.ping_request(3)]
    parsed = [protocol.parse(protocol.encode(m)) for m in built]
    assert parsed[0] == protocol.Action("subscribe", topic, "17-2", 1)
    assert parsed[1] == protocol.Action("unsubscribe", topic, None, "u")
    assert parsed[2] == protocol.Action("forecast", topic)
    assert parsed[3] == protocol.Action("ping", request_id=3)
    assert "last_seq" not in protocol.subscribe_request(topic)
