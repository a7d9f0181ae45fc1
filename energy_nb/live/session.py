"""The per-connection rules of the live server as a pure session object (no sockets, no asyncio).

In the manner of ``websockets``' I/O-free protocol classes (``websockets.protocol.Protocol``): the
server feeds every received frame to :meth:`LiveSession.receive` together with nothing else; the
session reads the time from an injected clock and answers with a list of *events* for the server
to carry out: messages to send, topics to subscribe or unsubscribe, forecasts to compute, or a
close with a code. The rules it owns:

- the token-bucket rate limit and the persistent-abuse close (1008);
- the message-size limit, parsing and validation (through :mod:`energy_nb.stream.protocol`);
- the subscription cap and ``not_subscribed``;
- the echo of the request ``id`` in replies and errors;
- the resume/resync decision after ``subscribe`` with ``last_seq``;
- the idle decision.

The server only moves bytes and talks to the broker and the forecast function.

Usage::

    >>> from energy_nb.live.session import LiveSession, SessionLimits, Send
    >>> clock = iter([0.0, 0.0, 0.0]).__next__
    >>> session = LiveSession("c1", SessionLimits(rate=1, burst=1), clock=clock)
    >>> [type(e).__name__ for e in session.receive('{"action": "ping", "id": 7}')]
    ['Send']
    >>> session.receive('{"action": "ping"}')[0].message["code"]
    'rate_limited'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from energy_nb.stream import protocol
from energy_nb.stream.protocol import ProtocolError, Topic

#: A function returning the current time in seconds (monotonic; injected for tests).
Clock = Callable[[], float]
#: The ``reason`` of a ``resync`` sent when the requested range is trimmed or unknown.
RESYNC_REASON = "trimmed_or_unknown"
#: WebSocket close code and reason for persistent rate-limit abuse.
ABUSE_CLOSE = (1008, "rate limit exceeded persistently")


@dataclass(frozen=True)
class SessionLimits:
    """The per-connection limits (the server copies them from its ``LiveConfig``).

    Attributes:
        rate, burst: token bucket (messages per second, bucket size).
        abuse_limit, abuse_window: that many rate-limited messages within the window -> 1008.
        max_subscriptions: topics per connection.
        max_message_bytes: larger text frames get ``message_too_large``.
    """

    rate: float = 20.0
    burst: int = 40
    abuse_limit: int = 50
    abuse_window: float = 10.0
    max_subscriptions: int = 90
    max_message_bytes: int = protocol.MAX_MESSAGE_BYTES


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` kept (pure; the caller
    passes the time).

    Usage: ``bucket = TokenBucket(20, 40, now); if not bucket.take(now): refuse()``.
    """

    __slots__ = ("burst", "rate", "time", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.time = now

    def take(self, now: float) -> bool:
        """Refill for the time passed, then take one token; False when there is none."""
        elapsed = max(0.0, now - self.time)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.time = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self) -> float:
        """Seconds until the next token (0 when one is available)."""
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


# --- events: what the server must do ---------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send this message (a dict built by :mod:`energy_nb.stream.protocol`) to the client."""

    message: dict[str, Any]

    @property
    def is_error(self) -> bool:
        """True for an ``error`` message."""
        return self.message.get("type") == "error"


@dataclass(frozen=True)
class Subscribe:
    """Add the connection to a topic's subscribers, then reply.

    Attributes:
        topic: the topic (already counted in :attr:`LiveSession.topics`).
        last_seq: resume after this sequence id (None: no resume).
        request_id: the id to echo in ``subscribed``.
        announce: False for the subscription from the URL query (listed in ``welcome`` instead
            of a ``subscribed`` reply).
    """

    topic: Topic
    last_seq: str | None = None
    request_id: str | int | None = None
    announce: bool = True


@dataclass(frozen=True)
class Unsubscribe:
    """Remove the connection from a topic's subscribers (the reply comes as a :class:`Send`)."""

    topic: Topic


@dataclass(frozen=True)
class ComputeForecast:
    """Compute the topic's forecast and answer with :meth:`LiveSession.forecast_reply` (or
    :meth:`LiveSession.forecast_failed`)."""

    topic: Topic
    request_id: str | int | None = None


@dataclass(frozen=True)
class Close:
    """Close the connection with this WebSocket close code and reason."""

    code: int
    reason: str


Event = Send | Subscribe | Unsubscribe | ComputeForecast | Close


@dataclass(frozen=True)
class ResumePlan:
    """What to send after ``subscribed`` when a client resumes from ``last_seq``.

    Attributes:
        messages: the missed updates, in order, each with its ``seq``.
        resync: True when the missed range is gone: send a ``resync`` (reason
            :data:`RESYNC_REASON`) with the topic's current forecast instead.
        sent: the last sequence id the client has after ``messages`` (``last_seq`` if none).
    """

    messages: list[dict[str, Any]]
    resync: bool
    sent: str


class LiveSession:
    """The rules of one live connection: frame in, events out, time from an injected clock.

    Args:
        connection_id: the id announced in ``welcome``.
        limits: the per-connection limits.
        clock: monotonic seconds (default ``time.monotonic``).

    Attributes:
        topics: the topics this connection is subscribed to.
        closing: True once the session decided to close; further frames are ignored.
        rate_limited: how many messages were refused by the rate limit.
    """

    def __init__(self, connection_id: str, limits: SessionLimits | None = None,
                 clock: Clock = time.monotonic) -> None:
        self.connection_id = connection_id
        self.limits = limits or SessionLimits()
        self.clock = clock
        self.topics: set[Topic] = set()
        self.closing = False
        self.rate_limited = 0
        now = clock()
        self._bucket = TokenBucket(self.limits.rate, self.limits.burst, now)
        self._abuse_count = 0
        self._abuse_start = 0.0
        self.last_activity = now

    # --- opening ------------------------------------------------------------------------------

    def open(self, commodity: str | None = None, horizon: str | None = None) -> list[Event]:
        """The events of a new connection: the URL query's topic (if any), ``welcome``, and an
        ``error`` when the query is invalid.

        Args:
            commodity: the ``commodity`` URL query value, or None.
            horizon: the ``horizon`` URL query value (text), or None.

        Returns:
            The events, in order.
        """
        events: list[Event] = []
        error: ProtocolError | None = None
        try:
            initial = protocol.topic_from_query(commodity, horizon)
        except ProtocolError as exc:
            initial, error = None, exc
        if initial is not None:
            self.topics.add(initial)
            events.append(Subscribe(initial, announce=False))
        events.append(Send(protocol.welcome(self.connection_id, sorted(self.topics))))
        if error is not None:
            events.append(Send(protocol.error_from(error)))
        return events

    # --- receiving ----------------------------------------------------------------------------

    def receive(self, frame: str | bytes) -> list[Event]:
        """Apply the rules to one received frame.

        Args:
            frame: ``str`` for a text frame, ``bytes`` for a binary one.

        Returns:
            The events for the server (empty once the session is closing).
        """
        if self.closing:
            return []  # the server keeps reading so the closing handshake can complete
        now = self.clock()
        self.last_activity = now
        if not self._bucket.take(now):
            return self._refuse(now, frame)
        if isinstance(frame, str) and len(frame) > self.limits.max_message_bytes:
            return [Send(protocol.error(
                "message_too_large",
                f"message is larger than {self.limits.max_message_bytes} bytes"))]
        try:
            action = protocol.parse(frame)
        except ProtocolError as exc:
            return [Send(protocol.error_from(exc))]
        try:
            return self._dispatch(action)
        except ProtocolError as exc:
            return [Send(protocol.error_from(exc, action.request_id))]

    def _refuse(self, now: float, frame: str | bytes) -> list[Event]:
        limits = self.limits
        self.rate_limited += 1
        if now - self._abuse_start > limits.abuse_window:
            self._abuse_start, self._abuse_count = now, 0
        self._abuse_count += 1
        if self._abuse_count >= limits.abuse_limit:
            self.closing = True
            return [Close(*ABUSE_CLOSE)]
        return [Send(protocol.error(
            "rate_limited", f"more than {limits.rate:g} messages per second "
            f"(burst {limits.burst}); message dropped", None, protocol.request_id_of(frame)))]

    def _dispatch(self, action: protocol.Action) -> list[Event]:
        rid = action.request_id
        if action.action == "ping":
            return [Send(protocol.pong(rid))]
        topic = action.topic
        assert topic is not None
        if action.action == "subscribe":
            if topic not in self.topics and len(self.topics) >= self.limits.max_subscriptions:
                raise ProtocolError("too_many_subscriptions",
                                    f"at most {self.limits.max_subscriptions} subscriptions",
                                    "subscribe")
            self.topics.add(topic)
            return [Subscribe(topic, action.last_seq, rid)]
        if action.action == "unsubscribe":
            if topic not in self.topics:
                raise ProtocolError("not_subscribed", f"not subscribed to {topic.key}",
                                    "unsubscribe")
            self.topics.discard(topic)
            return [Unsubscribe(topic), Send(protocol.unsubscribed(topic, rid))]
        return [ComputeForecast(topic, rid)]

    # --- answers to the server's work ---------------------------------------------------------

    def forecast_reply(self, topic: Topic, forecast: dict[str, Any],
                       request_id: str | int | None = None) -> dict[str, Any]:
        """The reply to a ``forecast`` action once the forecast is computed."""
        return protocol.forecast_update(topic, forecast, None) | (
            {"id": request_id} if request_id is not None else {})

    def forecast_failed(self, topic: Topic, reason: str, request_id: str | int | None = None,
                        during: str = "forecast") -> dict[str, Any]:
        """The ``forecast_failed`` error for a forecast (``during="forecast"``) or a resync
        (``during="subscribe"``) that could not be computed."""
        text = (f"forecast for {topic.key} failed: {reason}" if during == "forecast"
                else f"resync of {topic.key} failed: {reason}")
        return protocol.error("forecast_failed", text[:300], during, request_id)

    def internal_error(self, action: str | None, exc: BaseException,
                       request_id: str | int | None = None) -> dict[str, Any]:
        """The ``internal_error`` reply when carrying out an event failed unexpectedly."""
        return protocol.error("internal_error", type(exc).__name__, action, request_id)

    @staticmethod
    def plan_resume(last_seq: str,
                    backlog: list[tuple[str, dict[str, Any]]] | None) -> ResumePlan:
        """Decide what a resuming subscriber gets.

        Args:
            last_seq: the last sequence id the client saw.
            backlog: the broker's entries after ``last_seq`` (None: the range is trimmed or the
                id unknown, or the broker failed).

        Returns:
            The plan: the missed updates to send in order, or a resync.
        """
        if backlog is None:
            return ResumePlan([], True, last_seq)
        messages = [{**message, "seq": seq} for seq, message in backlog]
        return ResumePlan(messages, False, backlog[-1][0] if backlog else last_seq)

    @staticmethod
    def release_held(held: Iterable[tuple[str, str]], sent: str) -> list[str]:
        """The live updates held during a resume that the client still needs (seq after
        ``sent``), in order.

        Args:
            held: ``(seq, encoded text)`` pairs received while the backlog was being sent.
            sent: the last sequence id already delivered.

        Returns:
            The texts to send.
        """
        floor = protocol.seq_key(sent)
        return [text for seq, text in held if protocol.seq_key(seq) > floor]

    # --- idleness -----------------------------------------------------------------------------

    def is_idle(self, timeout: float | None) -> bool:
        """True when the connection has no subscriptions and sent nothing for ``timeout``
        seconds (None: never idle)."""
        if timeout is None or self.topics:
            return False
        return self.clock() - self.last_activity >= timeout
