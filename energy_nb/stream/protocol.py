"""The live forecast WebSocket protocol: parsing, validation and message construction.

Pure functions, no I/O: the server feeds every received frame to :func:`parse` and sends what the
constructors return, encoded with :func:`encode`. The contract is ``docs/websocket-protocol.md``.

Usage::

    >>> from energy_nb.stream import protocol
    >>> action = protocol.parse('{"action": "subscribe", "commodity": "wti", "horizon": 7}')
    >>> action.topic
    Topic(commodity='WTI', horizon=7)
    >>> protocol.parse('[1]').code
    'not_an_object'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from energy_nb.commodities import CODES
from energy_nb.service import requests as rules

#: Inclusive range of forecast horizons (business days) a topic may have: the rule every face
#: shares (:func:`energy_nb.service.requests.check_horizon`).
HORIZON_MIN, HORIZON_MAX = rules.MIN_HORIZON, rules.MAX_HORIZON
#: Largest client message the server processes; larger ones get ``message_too_large``.
MAX_MESSAGE_BYTES = 64 * 1024
#: Actions a client may send.
ACTIONS: tuple[str, ...] = ("subscribe", "unsubscribe", "forecast", "ping")
#: Every error code the server can send, with its meaning (documented in the protocol doc).
ERROR_CODES: dict[str, str] = {
    "invalid_json": "the text frame is not valid JSON",
    "not_an_object": "the JSON value is not an object",
    "binary_not_supported": "binary frames are not accepted; send JSON text",
    "message_too_large": f"the message is larger than {MAX_MESSAGE_BYTES} bytes",
    "missing_field": "a required field is absent",
    "unknown_action": "the action is not one of " + ", ".join(ACTIONS),
    "unknown_commodity": "the commodity is not one of " + ", ".join(CODES),
    "invalid_horizon": f"the horizon is not an integer in {HORIZON_MIN}..{HORIZON_MAX}",
    "invalid_last_seq": "last_seq is not a sequence id string like '1700000000000-0'",
    "not_subscribed": "unsubscribe for a topic this connection is not subscribed to",
    "too_many_subscriptions": "the connection already has the maximum number of subscriptions",
    "rate_limited": "too many messages; slow down (persistent abuse closes with 1008)",
    "forecast_failed": "the forecast could not be computed",
    "internal_error": "an unexpected server error; the connection stays usable",
}


class ProtocolError(Exception):
    """A client message that breaks the protocol.

    Attributes:
        code: one of :data:`ERROR_CODES`.
        message: a human-readable explanation naming what is wrong.
        action: the action of the offending message, when it could be read.
        request_id: the offending message's ``id`` when it was a JSON object with a usable one
            (echoed in the ``error`` reply).
    """

    def __init__(self, code: str, message: str, action: str | None = None,
                 request_id: str | int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.action = action
        self.request_id = request_id


@dataclass(frozen=True, order=True)
class Topic:
    """A subscription topic: one commodity at one horizon.

    Attributes:
        commodity: canonical code (``WTI``, ``BRENT``, ``NG``).
        horizon: business days ahead, 1..30.
    """

    commodity: str
    horizon: int

    @property
    def key(self) -> str:
        """A stable string key, e.g. ``"WTI:7"`` (used for stream names and stats)."""
        return f"{self.commodity}:{self.horizon}"

    def as_dict(self) -> dict[str, Any]:
        """The topic as ``{"commodity": ..., "horizon": ...}``."""
        return {"commodity": self.commodity, "horizon": self.horizon}

    @classmethod
    def parse(cls, commodity: Any, horizon: Any) -> Topic:
        """Validate a commodity/horizon pair.

        Args:
            commodity: any case (``"wti"``).
            horizon: an int (or an int-valued string from a URL query, see ``from_query``).

        Returns:
            The topic.

        Raises:
            ProtocolError: ``unknown_commodity`` or ``invalid_horizon``.
        """
        return cls(validate_commodity(commodity), validate_horizon(horizon))


def validate_commodity(value: Any) -> str:
    """Return the canonical commodity code or raise ``unknown_commodity``."""
    try:
        return rules.commodity_code(value)
    except rules.RequestError as exc:
        raise ProtocolError("unknown_commodity", exc.message) from None


def validate_horizon(value: Any) -> int:
    """Return the horizon as int or raise ``invalid_horizon`` (bools, floats and text are
    rejected; :func:`energy_nb.service.requests.check_horizon` gives the message)."""
    try:
        return rules.check_horizon(value)
    except rules.RequestError as exc:
        raise ProtocolError("invalid_horizon", exc.message) from None


def validate_seq(value: Any) -> str:
    """Return a sequence id (``"<ms>-<n>"``) or raise ``invalid_last_seq``."""
    if isinstance(value, str) and len(value) <= 41:
        head, sep, tail = value.partition("-")
        if sep and head.isdigit() and tail.isdigit() and head.isascii() and tail.isascii():
            return value
    raise ProtocolError(
        "invalid_last_seq", f"last_seq must look like '1700000000000-0', got {value!r:.60}"
    )


def seq_key(seq: str) -> tuple[int, int]:
    """Sort key of a sequence id: ``"12-3"`` -> ``(12, 3)``."""
    head, _, tail = seq.partition("-")
    return int(head), int(tail or 0)


def topic_from_query(commodity: str | None, horizon: str | None) -> Topic | None:
    """Read the optional ``commodity``/``horizon`` URL query parameters.

    Args:
        commodity: the ``commodity`` query value, or None.
        horizon: the ``horizon`` query value (text), or None.

    Returns:
        The topic, or None when neither is given.

    Raises:
        ProtocolError: when only one is given or either is invalid.
    """
    if commodity is None and horizon is None:
        return None
    if commodity is None or horizon is None:
        missing = "commodity" if commodity is None else "horizon"
        raise ProtocolError("missing_field",
                            f"query parameter {missing!r} is required with the other")
    try:
        number = rules.parse_horizon(horizon)
    except rules.RequestError as exc:
        raise ProtocolError("invalid_horizon", exc.message) from None
    return Topic.parse(commodity, number)


# --- client actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A validated client message.

    Attributes:
        action: ``subscribe``, ``unsubscribe``, ``forecast`` or ``ping``.
        topic: the topic (None for ``ping``).
        last_seq: ``subscribe`` only: resume after this sequence id.
        request_id: an optional client-chosen ``id`` echoed in the reply (str/int, else dropped).
    """

    action: str
    topic: Topic | None = None
    last_seq: str | None = None
    request_id: str | int | None = field(default=None)


def parse(frame: str | bytes | bytearray | memoryview) -> Action:
    """Parse and validate one received WebSocket frame.

    Args:
        frame: ``str`` for a text frame; bytes-like for a binary frame (always rejected).

    Returns:
        The validated :class:`Action`.

    Raises:
        ProtocolError: with the matching code from :data:`ERROR_CODES`.
    """
    if not isinstance(frame, str):
        raise ProtocolError("binary_not_supported",
                            "binary frames are not accepted; send JSON text")
    if (len(frame) > MAX_MESSAGE_BYTES
            or len(frame.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES):
        raise ProtocolError(
            "message_too_large", f"message is larger than {MAX_MESSAGE_BYTES} bytes"
        )
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("invalid_json", f"message is not valid JSON: {str(exc)[:80]}") from None
    if not isinstance(data, dict):
        raise ProtocolError(
            "not_an_object", f"message must be a JSON object, got {type(data).__name__}"
        )
    request_id = _request_id(data.get("id"))
    try:
        return _parse_object(data, request_id)
    except ProtocolError as exc:
        exc.request_id = request_id
        raise


def request_id_of(frame: str | bytes) -> str | int | None:
    """The echoable ``id`` of a frame that is a JSON object carrying one, else ``None``.

    For replies to frames that are refused before they are parsed (``rate_limited``): the id is
    still echoed whenever the frame was valid JSON with an ``id``. Frames over
    :data:`MAX_MESSAGE_BYTES` are not decoded (their ``message_too_large`` reply has no id).
    Never raises.

    Args:
        frame: the received frame.

    Returns:
        The id, as :func:`parse` would echo it.
    """
    if not isinstance(frame, str) or len(frame) > MAX_MESSAGE_BYTES:
        return None
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    return _request_id(data.get("id")) if isinstance(data, dict) else None


def _request_id(value: Any) -> str | int | None:
    """The echoable form of a message's ``id``: an int, a string cut to 64 characters, or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return value[:64] if isinstance(value, str) else value


def _parse_object(data: dict[str, Any], request_id: str | int | None) -> Action:
    """Validate a decoded message object (see :func:`parse`)."""
    if "action" not in data:
        raise ProtocolError("missing_field", "field 'action' is required")
    action = data["action"]
    if action not in ACTIONS:
        raise ProtocolError(
            "unknown_action",
            f"unknown action {action!r:.40}; expected one of {', '.join(ACTIONS)}",
        )
    if action == "ping":
        return Action("ping", request_id=request_id)
    for name in ("commodity", "horizon"):
        if name not in data:
            raise ProtocolError("missing_field", f"field {name!r} is required for {action}", action)
    try:
        topic = Topic.parse(data["commodity"], data["horizon"])
        last_seq = None
        if action == "subscribe" and data.get("last_seq") is not None:
            last_seq = validate_seq(data["last_seq"])
    except ProtocolError as exc:
        exc.action = action
        raise
    return Action(action, topic, last_seq, request_id)


# --- client messages (what a client sends; ForecastStream uses these) -------------------------


def subscribe_request(topic: Topic, last_seq: str | None = None,
                      request_id: str | int | None = None) -> dict[str, Any]:
    """A ``subscribe`` action; with ``last_seq`` the server resumes after that sequence id.

    Usage: ``encode(subscribe_request(Topic("WTI", 7), last_seq="1700000000000-0"))``.
    """
    message: dict[str, Any] = {"action": "subscribe", **topic.as_dict()}
    if last_seq is not None:
        message["last_seq"] = last_seq
    return _with_id(message, request_id)


def unsubscribe_request(topic: Topic, request_id: str | int | None = None) -> dict[str, Any]:
    """An ``unsubscribe`` action."""
    return _with_id({"action": "unsubscribe", **topic.as_dict()}, request_id)


def forecast_request(topic: Topic, request_id: str | int | None = None) -> dict[str, Any]:
    """A ``forecast`` action (the reply is a ``forecast_update`` with ``seq: null``)."""
    return _with_id({"action": "forecast", **topic.as_dict()}, request_id)


def ping_request(request_id: str | int | None = None) -> dict[str, Any]:
    """The app-level ``ping`` action (the reply is ``pong``)."""
    return _with_id({"action": "ping"}, request_id)


# --- server messages -------------------------------------------------------------------------


def utc_now() -> str:
    """The current UTC time as ISO-8601 with milliseconds and ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clean(value: Any) -> Any:
    """Replace non-finite floats by None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def encode(message: dict[str, Any]) -> str:
    """Serialize a server message to compact JSON text (NaN/inf become ``null``).

    Args:
        message: a dict built by one of the constructors below.

    Returns:
        The JSON text to send.
    """
    try:
        return json.dumps(message, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_clean(message), separators=(",", ":"), allow_nan=False)


def welcome(connection_id: str, subscriptions: list[Topic]) -> dict[str, Any]:
    """The first message on every connection."""
    return {
        "type": "welcome",
        "connection_id": connection_id,
        "server_time": utc_now(),
        "subscriptions": [t.as_dict() for t in subscriptions],
        "commodities": list(CODES),
        "horizon_range": [HORIZON_MIN, HORIZON_MAX],
    }


def _with_id(message: dict[str, Any], request_id: str | int | None) -> dict[str, Any]:
    if request_id is not None:
        message["id"] = request_id
    return message


def subscribed(topic: Topic, seq: str | None,
               request_id: str | int | None = None) -> dict[str, Any]:
    """Reply to ``subscribe``; ``seq`` is the topic's latest sequence id (None if none yet)."""
    return _with_id({"type": "subscribed", **topic.as_dict(), "seq": seq}, request_id)


def unsubscribed(topic: Topic, request_id: str | int | None = None) -> dict[str, Any]:
    """Reply to ``unsubscribe``."""
    return _with_id({"type": "unsubscribed", **topic.as_dict()}, request_id)


def pong(request_id: str | int | None = None) -> dict[str, Any]:
    """Reply to the app-level ``ping``."""
    return _with_id({"type": "pong", "server_time": utc_now()}, request_id)


def error(code: str, message: str, action: str | None = None,
          request_id: str | int | None = None) -> dict[str, Any]:
    """An ``error`` message; ``code`` must be in :data:`ERROR_CODES`."""
    if code not in ERROR_CODES:
        raise ValueError(f"unknown error code {code!r}")
    msg: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if action is not None:
        msg["action"] = action
    return _with_id(msg, request_id)


def error_from(exc: ProtocolError, request_id: str | int | None = None) -> dict[str, Any]:
    """An ``error`` message for a :class:`ProtocolError`.

    Args:
        exc: the error.
        request_id: the id to echo (default: the id :func:`parse` attached to ``exc``).

    Returns:
        The message dict.
    """
    return error(exc.code, exc.message, exc.action,
                 exc.request_id if request_id is None else request_id)


def forecast_update(topic: Topic, forecast: dict[str, Any], seq: str | None,
                    generated_at: str | None = None) -> dict[str, Any]:
    """A ``forecast_update`` message.

    Args:
        topic: the topic.
        forecast: ``{"model", "as_of", "points": [{"date", "mean", "lower_80", ...}]}`` as
            returned by the forecast function (see :mod:`energy_nb.live.forecasting`).
        seq: the broker sequence id; None for a reply to the ``forecast`` action.
        generated_at: when the forecast was computed (default: now).

    Returns:
        The message dict.
    """
    return {
        "type": "forecast_update",
        **topic.as_dict(),
        "model": forecast.get("model"),
        "as_of": forecast.get("as_of"),
        "generated_at": generated_at or forecast.get("generated_at") or utc_now(),
        "seq": seq,
        "levels": forecast.get("levels", []),
        "points": forecast.get("points", []),
    }


def resync(update: dict[str, Any], reason: str) -> dict[str, Any]:
    """A ``resync``: the missed range is gone; here is the current forecast instead.

    Args:
        update: a ``forecast_update`` dict (its fields are copied; ``type`` becomes ``resync``).
        reason: why, e.g. ``"trimmed"`` or ``"unknown_seq"``.
    """
    return {**update, "type": "resync", "reason": reason}
