"""The outage buffer: ordered across topics, bounded per topic, drops counted as superseded."""

from __future__ import annotations

import pytest

from energy_nb.live.outage import OutageBuffer
from energy_nb.stream.protocol import Topic

WTI, NG = Topic("WTI", 7), Topic("NG", 1)


def drain(buffer: OutageBuffer) -> list[tuple[str, dict]]:
    out = []
    while buffer:
        topic, message = buffer.oldest()
        out.append((topic.key, message))
        buffer.pop_oldest()
    return out


def test_updates_come_out_in_the_order_they_went_in_across_topics() -> None:
    buffer = OutageBuffer(per_topic=10)
    for i, topic in enumerate([WTI, NG, WTI, WTI, NG]):
        buffer.add(topic, {"n": i})
    assert len(buffer) == 5
    assert drain(buffer) == [("WTI:7", {"n": 0}), ("NG:1", {"n": 1}), ("WTI:7", {"n": 2}),
                             ("WTI:7", {"n": 3}), ("NG:1", {"n": 4})]
    assert len(buffer) == 0 and buffer.dropped == 0


def test_a_full_topic_drops_its_oldest_and_the_next_one_counts_them() -> None:
    buffer = OutageBuffer(per_topic=2)
    buffer.add(NG, {"n": "ng"})
    for i in range(5):
        buffer.add(WTI, {"n": i})
    assert len(buffer) == 3 and buffer.dropped == 3
    # the other topic keeps its share; the oldest kept WTI update says 3 were skipped
    assert drain(buffer) == [("NG:1", {"n": "ng"}), ("WTI:7", {"n": 3, "superseded": 3}),
                             ("WTI:7", {"n": 4})]


def test_oldest_does_not_change_the_buffer_until_popped() -> None:
    buffer = OutageBuffer(per_topic=1)
    buffer.add(WTI, {"n": 0})
    buffer.add(WTI, {"n": 1})
    assert buffer.oldest() == (WTI, {"n": 1, "superseded": 1})
    assert buffer.oldest() == (WTI, {"n": 1, "superseded": 1})  # a failed publish retries it
    buffer.pop_oldest()
    with pytest.raises(IndexError, match="empty"):
        buffer.oldest()


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1 update per topic, got 0"):
        OutageBuffer(per_topic=0)


def test_the_documented_bounds_are_the_code_defaults() -> None:
    from energy_nb.config import PROJECT_ROOT
    from energy_nb.live.broker import RedisBroker
    from energy_nb.live.outage import DEFAULT_PER_TOPIC

    doc = (PROJECT_ROOT / "docs" / "websocket-protocol.md").read_text()
    broker = RedisBroker("redis://127.0.0.1:1/0")  # never started: no connection is made
    assert f"at most **{DEFAULT_PER_TOPIC} per topic**" in doc
    assert f"at most **{broker.retry_max:g} s**" in doc
    assert "0.1 s doubling" in doc and broker.retry_interval == 0.1
