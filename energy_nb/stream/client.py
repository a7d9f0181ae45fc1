"""``ForecastStream``: an asyncio client for the live forecast server.

It connects, re-connects automatically (interval with exponential backoff), re-subscribes every
topic after a reconnect resuming from the last ``seq`` it saw (so no update is lost while it was
away; a ``resync`` replaces the state when the missed range is gone), and calls observers on every
update and on every status change.

Usage::

    stream = ForecastStream("ws://127.0.0.1:8000/api/v1/ws/forecast", api_key=None)
    stream.add_observer(lambda msg: print(msg["commodity"], msg["seq"], msg["points"][0]))
    await stream.subscribe("WTI", 7)
    task = stream.start()          # runs in the background (e.g. in a Jupyter kernel)
    ...
    await stream.stop()
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from energy_nb.stream import protocol
from energy_nb.stream.protocol import Topic

logger = logging.getLogger(__name__)

#: Called with each ``forecast_update`` / ``resync`` message (sync or async).
UpdateObserver = Callable[[dict[str, Any]], Any]
#: Called with the :class:`StreamState` whenever it changes (sync or async).
StatusObserver = Callable[["StreamState"], Any]


@dataclass
class StreamState:
    """What the stream knows about its connection.

    Attributes:
        connected: a WebSocket is open and welcomed.
        connection_id: the server's id for the current connection.
        last_message: the last message received (any type).
        last_update: the last ``forecast_update``/``resync``.
        last_error: text of the last failure (connect error, close reason, ``error`` message).
        last_error_code: ``code`` of the last ``error`` message, if any.
        reconnects: how many times the stream connected after the first time.
        updates: number of updates received.
        since: when ``connected`` last changed (epoch seconds).
    """

    connected: bool = False
    connection_id: str | None = None
    last_message: dict[str, Any] | None = None
    last_update: dict[str, Any] | None = None
    last_error: str | None = None
    last_error_code: str | None = None
    reconnects: int = 0
    updates: int = 0
    since: float = field(default_factory=time.time)


class ForecastStream:
    """Auto-reconnecting subscriber of the live forecast server.

    Args:
        url: the endpoint (default: ``Settings.from_env().ws_url``).
        api_key: sent as the ``X-API-Key`` header (default: ``ENERGY_NB_API_KEY``).
        reconnect_interval: first wait after a failure, seconds.
        backoff: factor applied to the wait after each consecutive failure.
        max_interval: cap of the wait.
        request_initial: ask for the current forecast of a topic on first subscribe.
        open_timeout: handshake timeout, seconds.
        origin: Origin header to send (None: none, like any non-browser client).
    """

    def __init__(self, url: str | None = None, api_key: str | None = None, *,
                 reconnect_interval: float = 0.5, backoff: float = 2.0, max_interval: float = 15.0,
                 request_initial: bool = True, open_timeout: float = 5.0,
                 origin: str | None = None) -> None:
        if url is None or api_key is None:
            from energy_nb.config import Settings

            settings = Settings.from_env()
            url = url or settings.ws_url
            api_key = api_key if api_key is not None else settings.api_key
        self.url = url
        self.api_key = api_key
        self.reconnect_interval = reconnect_interval
        self.backoff = backoff
        self.max_interval = max_interval
        self.request_initial = request_initial
        self.open_timeout = open_timeout
        self.origin = origin
        self.state = StreamState()
        #: topic -> last seq seen (None until the first update)
        self.last_seq: dict[Topic, str | None] = {}
        self._observers: list[UpdateObserver] = []
        self._status_observers: list[StatusObserver] = []
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None
        self._connected_event = asyncio.Event()
        self._new_message = asyncio.Event()
        #: the last 1,000 messages received and how many were received in all
        self.messages: deque[dict[str, Any]] = deque(maxlen=1000)
        self.received_count = 0

    # --- observers --------------------------------------------------------------------------

    def add_observer(self, callback: UpdateObserver) -> None:
        """Call ``callback(message)`` for every ``forecast_update`` and ``resync``."""
        self._observers.append(callback)

    def add_status_observer(self, callback: StatusObserver) -> None:
        """Call ``callback(state)`` when the connection state or last error changes."""
        self._status_observers.append(callback)

    async def _notify(self, callbacks: list[Callable[[Any], Any]], value: Any) -> None:
        for callback in list(callbacks):
            try:
                result = callback(value)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("observer %r failed", callback)

    async def _set_status(self, **changes: Any) -> None:
        if "connected" in changes and changes["connected"] != self.state.connected:
            self.state.since = time.time()
        for key, value in changes.items():
            setattr(self.state, key, value)
        await self._notify(self._status_observers, self.state)

    # --- commands ---------------------------------------------------------------------------

    async def subscribe(self, commodity: str, horizon: int) -> None:
        """Follow a topic (sent now if connected, and again after every reconnect)."""
        topic = Topic.parse(commodity, horizon)
        if topic in self.last_seq:
            return
        self.last_seq[topic] = None
        if self.state.connected:
            await self._send(protocol.subscribe_request(topic))
            if self.request_initial:
                await self._send(protocol.forecast_request(topic))

    async def unsubscribe(self, commodity: str, horizon: int) -> None:
        """Stop following a topic."""
        topic = Topic.parse(commodity, horizon)
        if self.last_seq.pop(topic, "absent") != "absent" and self.state.connected:
            await self._send(protocol.unsubscribe_request(topic))

    async def request(self, commodity: str, horizon: int) -> None:
        """Ask the server for a fresh forecast of a topic (delivered to observers)."""
        topic = Topic.parse(commodity, horizon)
        await self._send(protocol.forecast_request(topic))

    async def ping(self) -> None:
        """Send the app-level ``ping`` (the reply is ``pong``)."""
        await self._send(protocol.ping_request())

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionError("not connected")
        await ws.send(protocol.encode(message))

    # --- running ----------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run the stream as a background task of the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self.run())
        return self._task

    async def stop(self) -> None:
        """Stop the background task and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001, S110 - stopping
                pass
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self.state.connected:
            await self._set_status(connected=False)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until the stream is connected."""
        await asyncio.wait_for(self._connected_event.wait(), timeout)

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool],
                       timeout: float = 10.0, since: int | None = None) -> dict[str, Any]:
        """Wait for a received message matching ``predicate``.

        Args:
            predicate: test applied to each message.
            timeout: seconds.
            since: message count to start from (default: only messages received from now on;
                ``0`` includes the last 1,000 already received).

        Returns:
            The first matching message.
        """
        start = self.received_count if since is None else since

        async def scan() -> dict[str, Any]:
            index = start
            while True:
                first_kept = self.received_count - len(self.messages)
                for i in range(max(index, first_kept), self.received_count):
                    msg = self.messages[i - first_kept]
                    if predicate(msg):
                        return msg
                index = self.received_count
                self._new_message.clear()
                await self._new_message.wait()

        return await asyncio.wait_for(scan(), timeout)

    def _connect_url(self) -> str:
        return self.url

    async def run(self) -> None:
        """Connect and process messages forever, reconnecting with backoff."""
        delay = self.reconnect_interval
        first = True
        while True:
            headers = {"X-API-Key": self.api_key} if self.api_key else None
            try:
                async with websockets.connect(self._connect_url(), additional_headers=headers,
                                              origin=self.origin, open_timeout=self.open_timeout,
                                              compression=None, ping_interval=20,
                                              ping_timeout=20) as ws:
                    self._ws = ws
                    await self._session(ws, first)
                    first = False
                    delay = self.reconnect_interval
                    # the server closed cleanly (e.g. restart, 1001): say so, then reconnect
                    await self._set_status(
                        connected=False,
                        last_error=f"connection closed ({ws.close_code} {ws.close_reason})".strip())
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                status = exc.response.status_code
                await self._set_status(connected=False,
                                       last_error=f"HTTP {status} from server")
            except ConnectionClosed as exc:
                reason = exc.rcvd.reason if exc.rcvd else "no close frame"
                code = exc.rcvd.code if exc.rcvd else 1006
                await self._set_status(connected=False,
                                       last_error=f"connection closed ({code} {reason})".strip())
                delay = self.reconnect_interval if self.state.updates else delay
            except (TimeoutError, OSError, websockets.InvalidHandshake) as exc:
                await self._set_status(connected=False, last_error=f"{type(exc).__name__}: {exc}")
            finally:
                self._ws = None
                self._connected_event.clear()
            if self.state.connected:
                await self._set_status(connected=False)
            await asyncio.sleep(delay)
            delay = min(delay * self.backoff, self.max_interval)
            self.state.reconnects += 1

    async def _session(self, ws: Any, first: bool) -> None:
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            raise ConnectionError(f"expected welcome, got {welcome.get('type')!r}")
        already = {Topic.parse(t["commodity"], t["horizon"])
                   for t in welcome.get("subscriptions", [])}
        await self._set_status(connected=True, connection_id=welcome.get("connection_id"))
        self._connected_event.set()
        await self._handle(welcome)
        for topic, seq in list(self.last_seq.items()):
            if topic not in already or seq is not None:
                await ws.send(protocol.encode(protocol.subscribe_request(topic, last_seq=seq)))
            if seq is None and self.request_initial:
                await ws.send(protocol.encode(protocol.forecast_request(topic)))
        async for frame in ws:
            try:
                message = json.loads(frame)
            except ValueError:
                logger.warning("ignoring non-JSON frame from server")
                continue
            await self._handle(message)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        self.state.last_message = message
        self.messages.append(message)
        self.received_count += 1
        self._new_message.set()
        if kind in ("forecast_update", "resync"):
            try:
                topic = Topic.parse(message.get("commodity"), message.get("horizon"))
            except Exception:  # noqa: BLE001 - a bad topic in a message is ignored
                topic = None
            seq = message.get("seq")
            if topic is not None and seq is not None and topic in self.last_seq:
                self.last_seq[topic] = seq
            self.state.last_update = message
            self.state.updates += 1
            await self._notify(self._observers, message)
        elif kind == "error":
            await self._set_status(last_error=f"{message.get('code')}: {message.get('message')}",
                                   last_error_code=message.get("code"))


def with_query(url: str, **params: Any) -> str:
    """Add query parameters to a URL (``None`` values are skipped)."""
    parts = urlsplit(url)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = "&".join(p for p in (parts.query, extra) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
