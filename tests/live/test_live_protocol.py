"""Every protocol message and error, pure (no socket)."""

from __future__ import annotations

import json

import pytest

from energy_nb.stream import protocol
from energy_nb.stream.protocol import Action, ProtocolError, Topic


def parse_error(frame: object) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        protocol.parse(frame)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("commodity", ["WTI", "wti", " Brent ", "ng"])
def test_subscribe_accepts_any_case_and_normalizes(commodity: str) -> None:
    action = protocol.parse(json.dumps({"action": "subscribe", "commodity": commodity,
                                        "horizon": 30}))
    assert action.action == "subscribe"
    assert action.topic == Topic(commodity.strip().upper(), 30)
    assert action.last_seq is None


def test_subscribe_with_last_seq_and_id() -> None:
    action = protocol.parse('{"action":"subscribe","commodity":"WTI","horizon":1,'
                            '"last_seq":"1700000000000-3","id":"r1"}')
    assert action == Action("subscribe", Topic("WTI", 1), "1700000000000-3", "r1")


@pytest.mark.parametrize("name", ["unsubscribe", "forecast"])
def test_topic_actions(name: str) -> None:
    action = protocol.parse(json.dumps({"action": name, "commodity": "NG", "horizon": 5}))
    assert action == Action(name, Topic("NG", 5))


def test_ping_needs_no_topic() -> None:
    assert protocol.parse('{"action": "ping", "id": 4}') == Action("ping", request_id=4)


@pytest.mark.parametrize(("frame", "code"), [
    ("not json", "invalid_json"),
    ("{\"action\": ", "invalid_json"),
    ("", "invalid_json"),
    ("[1, 2]", "not_an_object"),
    ("\"subscribe\"", "not_an_object"),
    ("null", "not_an_object"),
    ("{}", "missing_field"),
    ('{"commodity": "WTI", "horizon": 7}', "missing_field"),
    ('{"action": "subscribe", "horizon": 7}', "missing_field"),
    ('{"action": "subscribe", "commodity": "WTI"}', "missing_field"),
    ('{"action": "SUBSCRIBE", "commodity": "WTI", "horizon": 7}', "unknown_action"),
    ('{"action": "shutdown"}', "unknown_action"),
    ('{"action": 5}', "unknown_action"),
    ('{"action": "subscribe", "commodity": "GOLD", "horizon": 7}', "unknown_commodity"),
    ('{"action": "subscribe", "commodity": 3, "horizon": 7}', "unknown_commodity"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": 0}', "invalid_horizon"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": 31}', "invalid_horizon"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": 7.0}', "invalid_horizon"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": "7"}', "invalid_horizon"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": true}', "invalid_horizon"),
    ('{"action": "forecast", "commodity": "WTI", "horizon": null}', "invalid_horizon"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": 7, "last_seq": 12}',
     "invalid_last_seq"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": 7, "last_seq": "abc"}',
     "invalid_last_seq"),
])
def test_bad_messages_get_their_error_code(frame: str, code: str) -> None:
    exc = parse_error(frame)
    assert exc.code == code
    assert code in protocol.ERROR_CODES
    assert exc.message  # a human explanation


OBJECT_ERRORS = [
    ('{}', "missing_field"),
    ('{"action": "dance"}', "unknown_action"),
    ('{"action": "subscribe", "horizon": 7}', "missing_field"),
    ('{"action": "subscribe", "commodity": "XAU", "horizon": 7}', "unknown_commodity"),
    ('{"action": "forecast", "commodity": "WTI", "horizon": 31}', "invalid_horizon"),
    ('{"action": "subscribe", "commodity": "WTI", "horizon": 7, "last_seq": "x"}',
     "invalid_last_seq"),
]


@pytest.mark.parametrize(("frame", "code"), OBJECT_ERRORS)
@pytest.mark.parametrize("request_id", ["r1", 7, "x" * 80])
def test_every_validation_error_of_an_object_carries_its_id(frame: str, code: str,
                                                            request_id: object) -> None:
    exc = parse_error(json.dumps({**json.loads(frame), "id": request_id}))
    expected = request_id[:64] if isinstance(request_id, str) else request_id
    assert (exc.code, exc.request_id) == (code, expected)
    assert protocol.error_from(exc)["id"] == expected


@pytest.mark.parametrize("request_id", [None, True, 1.5, [1], {"a": 1}])
def test_ids_that_are_not_strings_or_integers_are_not_echoed(request_id: object) -> None:
    exc = parse_error(json.dumps({"action": "dance", "id": request_id}))
    assert exc.request_id is None and "id" not in protocol.error_from(exc)


def test_error_names_the_bad_value() -> None:
    exc = parse_error('{"action": "subscribe", "commodity": "gold", "horizon": 7}')
    assert "gold" in exc.message and "WTI" in exc.message
    assert exc.action == "subscribe"
    assert "31" in parse_error('{"action": "forecast", "commodity": "WTI", "horizon": 31}').message


@pytest.mark.parametrize("frame", [b"{}", bytearray(b"x"), memoryview(b"abc")])
def test_binary_frames_are_rejected(frame: object) -> None:
    assert parse_error(frame).code == "binary_not_supported"


def test_too_large() -> None:
    big = json.dumps({"action": "ping", "pad": "x" * protocol.MAX_MESSAGE_BYTES})
    assert parse_error(big).code == "message_too_large"
    # multi-byte characters count in bytes, not characters
    wide = json.dumps({"action": "ping", "pad": "é" * (protocol.MAX_MESSAGE_BYTES // 2)},
                      ensure_ascii=False)
    assert len(wide) < protocol.MAX_MESSAGE_BYTES
    assert parse_error(wide).code == "message_too_large"


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    assert parse_error("[" * 20000 + "]" * 20000).code in ("invalid_json", "not_an_object")


def test_topic_from_query() -> None:
    assert protocol.topic_from_query(None, None) is None
    assert protocol.topic_from_query("brent", "12") == Topic("BRENT", 12)
    assert pytest.raises(ProtocolError, protocol.topic_from_query, "WTI", None).value.code \
        == "missing_field"
    assert pytest.raises(ProtocolError, protocol.topic_from_query, "WTI", "x").value.code \
        == "invalid_horizon"
    assert pytest.raises(ProtocolError, protocol.topic_from_query, "WTI", "99").value.code \
        == "invalid_horizon"
    assert pytest.raises(ProtocolError, protocol.topic_from_query, "oil", "3").value.code \
        == "unknown_commodity"


def test_seq_ordering() -> None:
    assert protocol.seq_key("10-2") > protocol.seq_key("9-99")
    assert protocol.seq_key("10-10") > protocol.seq_key("10-9")


def test_server_messages_have_the_documented_fields() -> None:
    topic = Topic("WTI", 7)
    welcome = protocol.welcome("abc", [topic])
    assert welcome["type"] == "welcome" and welcome["connection_id"] == "abc"
    assert welcome["subscriptions"] == [{"commodity": "WTI", "horizon": 7}]
    assert welcome["commodities"] == ["WTI", "BRENT", "NG"]
    assert welcome["horizon_range"] == [1, 30]
    assert welcome["server_time"].endswith("Z")
    assert protocol.subscribed(topic, "5-0", "q") == {
        "type": "subscribed", "commodity": "WTI", "horizon": 7, "seq": "5-0", "id": "q"}
    assert protocol.unsubscribed(topic) == {"type": "unsubscribed", "commodity": "WTI",
                                            "horizon": 7}
    assert protocol.pong(3)["type"] == "pong" and protocol.pong(3)["id"] == 3
    err = protocol.error("rate_limited", "slow down", "ping")
    assert err == {"type": "error", "code": "rate_limited", "message": "slow down",
                   "action": "ping"}
    with pytest.raises(ValueError):
        protocol.error("no_such_code", "x")
    forecast = {"model": "drift", "as_of": "2025-01-02", "levels": [80],
                "points": [{"date": "2025-01-03", "mean": 70.0, "lower_80": 69.0,
                            "upper_80": 71.0}]}
    update = protocol.forecast_update(topic, forecast, "7-1")
    assert {k: update[k] for k in ("type", "commodity", "horizon", "model", "as_of", "seq")} == {
        "type": "forecast_update", "commodity": "WTI", "horizon": 7, "model": "drift",
        "as_of": "2025-01-02", "seq": "7-1"}
    assert update["points"] == forecast["points"] and update["generated_at"]
    resync = protocol.resync(update, "trimmed")
    assert resync["type"] == "resync" and resync["reason"] == "trimmed"
    assert resync["points"] == update["points"]


def test_encode_is_compact_json_and_maps_nan_to_null() -> None:
    text = protocol.encode({"type": "x", "v": float("nan"), "w": [float("inf"), 1.5]})
    assert json.loads(text) == {"type": "x", "v": None, "w": [None, 1.5]}
    assert " " not in protocol.encode({"a": 1, "b": [1, 2]})
