"""Updates held back while the broker backend (Redis) is unreachable (pure, no I/O).

During an outage the feed keeps computing forecasts; :class:`OutageBuffer` keeps them in the
order they were made, so the broker can publish them when the backend returns. It is bounded
per topic: past ``per_topic`` waiting updates, the oldest one of that topic is dropped and the
next one kept records how many it replaced (it is published with ``"superseded": n``, the field
the slow-consumer policy uses for the same thing).

Usage::

    buffer = OutageBuffer(per_topic=100)
    buffer.add(Topic("WTI", 7), {"type": "forecast_update", ...})
    while buffer:
        topic, message = buffer.oldest()     # message carries "superseded" when some were dropped
        await publish(topic, message)        # only once it really went out:
        buffer.pop_oldest()
"""

from __future__ import annotations

from collections import deque
from typing import Any

from energy_nb.stream.protocol import Topic

#: Default bound: waiting updates kept per topic (90 topics -> at most 9,000 in all).
DEFAULT_PER_TOPIC = 100


class OutageBuffer:
    """Bounded, ordered store of updates waiting for the backend.

    Args:
        per_topic: waiting updates kept per topic (at least 1).

    Attributes:
        dropped: updates dropped so far because a topic's share was full.
    """

    def __init__(self, per_topic: int = DEFAULT_PER_TOPIC) -> None:
        if per_topic < 1:
            raise ValueError(f"the outage buffer must hold at least 1 update per topic, "
                             f"got {per_topic}")
        self.per_topic = per_topic
        self.dropped = 0
        self._order = 0
        # per topic: [order, message, superseded] oldest first
        self._topics: dict[Topic, deque[list[Any]]] = {}

    def __len__(self) -> int:
        return sum(len(q) for q in self._topics.values())

    def add(self, topic: Topic, message: dict[str, Any]) -> None:
        """Keep one update (dropping the topic's oldest one when its share is full).

        Args:
            topic: the update's topic.
            message: the update without ``seq``.
        """
        queue = self._topics.setdefault(topic, deque())
        queue.append([self._order, message, 0])
        self._order += 1
        if len(queue) > self.per_topic:
            _, _, superseded = queue.popleft()
            queue[0][2] += superseded + 1
            self.dropped += 1

    def _oldest_topic(self) -> Topic:
        queues = [(q[0][0], t) for t, q in self._topics.items() if q]
        if not queues:
            raise IndexError("the outage buffer is empty")
        return min(queues)[1]  # orders are unique: Topic is never compared

    def oldest(self) -> tuple[Topic, dict[str, Any]]:
        """The oldest waiting update, with ``superseded`` set when older ones were dropped.

        Returns:
            ``(topic, message)``; the message is a copy (the buffer is unchanged).

        Raises:
            IndexError: when the buffer is empty.
        """
        topic = self._oldest_topic()
        _, message, superseded = self._topics[topic][0]
        return topic, ({**message, "superseded": superseded} if superseded else dict(message))

    def pop_oldest(self) -> None:
        """Forget the oldest waiting update (after it was published)."""
        topic = self._oldest_topic()
        queue = self._topics[topic]
        queue.popleft()
        if not queue:
            del self._topics[topic]
