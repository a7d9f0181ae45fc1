"""The live forecast WebSocket server (``websockets`` asyncio server).

One port serves the WebSocket endpoint ``/api/v1/ws/forecast`` and three HTTP routes:
``/healthz``, ``/api/v1/ws/stats`` and ``/api/docs`` (the protocol document). The contract is
``docs/websocket-protocol.md``; :mod:`energy_nb.stream.protocol` parses and builds every message.

The per-connection rules (rate limit, size limit, parsing, subscription cap, id echo, resume
or resync decision, idleness) live in the I/O-free :class:`~energy_nb.live.session.LiveSession`;
this module only moves frames, carries out the session's events and talks to the broker.

The server core knows no models: it calls an injected forecast function
``(commodity, horizon) -> dict`` (see :mod:`energy_nb.live.forecasting`) and fans updates out
through a :class:`~energy_nb.live.broker.Broker` (in-memory or Redis Streams).

Usage::

    server = LiveServer(forecast_fn, LiveConfig(port=0))
    async with server:
        print(server.url)                       # ws://127.0.0.1:PORT/api/v1/ws/forecast
        await server.broadcast_forecast_update("WTI", horizon=7)
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import re
import resource
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.frames import CloseCode
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from energy_nb.config import PROJECT_ROOT
from energy_nb.stream import protocol
from energy_nb.live.access import api_key_refusal
from energy_nb.live.admission import (
    AcceptErrorLog,
    Admission,
    TrackedConnection,
    cut,
    fd_budget,
)
from energy_nb.live.broker import Broker, BrokerError, MemoryBroker
from energy_nb.live.forecasting import ForecastFn
from energy_nb.stream.protocol import Topic
from energy_nb.live.session import (
    Close,
    ComputeForecast,
    Event,
    LiveSession,
    RESYNC_REASON,
    Send,
    SessionLimits,
    Subscribe,
    Unsubscribe,
)

logger = logging.getLogger(__name__)

WS_PATH = "/api/v1/ws/forecast"
HEALTH_PATH = "/healthz"
STATS_PATH = "/api/v1/ws/stats"
DOCS_PATH = "/api/docs"
DEFAULT_DOCS_FILE = PROJECT_ROOT / "docs" / "websocket-protocol.md"
#: Default Origin allowlist: non-browser clients (no Origin) and pages served from localhost.
LOCAL_ORIGINS: tuple[Any, ...] = (
    None,
    re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"),
)

_SECRET_PATTERNS = (
    re.compile(r"(api_key=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(x-api-key:\s*)\S+", re.IGNORECASE),
)


class _RedactSecrets(logging.Filter):
    """Logging filter removing API keys from log records (query strings and headers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = text
        for pattern in _SECRET_PATTERNS:
            redacted = pattern.sub(r"\1***", redacted)
        if redacted != text:
            record.msg, record.args = redacted, ()
        return True


ws_logger = logging.getLogger("energy_nb.live.websockets")
ws_logger.addFilter(_RedactSecrets())
logger.addFilter(_RedactSecrets())


@dataclass
class LiveConfig:
    """Server settings and limits (all documented in ``docs/websocket-protocol.md``).

    Attributes:
        host, port: where to listen (port 0 picks a free port).
        api_key: when set, every request except ``/healthz`` needs it (``api_key`` query or
            ``X-API-Key`` header), else HTTP 401 before the upgrade.
        allowed_origins: Origin allowlist; ``None`` entry = no Origin header (non-browser
            clients); ``"*"`` allows any; default: localhost pages and non-browser clients.
        max_message_bytes: larger client messages get ``message_too_large`` (connection stays).
        hard_max_bytes: larger frames close the connection with 1009 (websockets ``max_size``).
        rate, burst: token bucket per connection (messages per second, bucket size).
        abuse_limit, abuse_window: that many rate-limited messages within the window → 1008.
        max_connections, max_per_address: limits; beyond them the server closes with 1013.
            Connections still in the opening handshake count too: one beyond a limit may
            complete its handshake (to be told 1013); further ones make the server drop the
            oldest connection still in its handshake, or are refused at once.
            ``max_connections`` is lowered to fit the process's open-files limit
            (``RLIMIT_NOFILE``) minus two backlogs and a reserve, with a warning.
        max_subscriptions: topics per connection.
        idle_timeout: close (1000) a connection with no subscriptions that sent nothing for this
            long (seconds); ``None`` disables.
        ping_interval, ping_timeout: WebSocket heartbeat; a peer that does not answer is dropped.
        close_timeout: how long a closing handshake may take before the TCP connection is cut.
        write_timeout: a connection whose write buffer stays above its high-water mark (32 KiB)
            this long (seconds) is closed with 1008 and its slot freed: a client that stopped
            reading. Default: the heartbeat timeout's default; ``None`` disables.
        backlog: listen backlog (pending TCP connections) for bursts of reconnecting clients;
            capped at the kernel's ``somaxconn`` and an eighth of the open-files limit (at
            least 16): asyncio accepts that many at once before any can be refused.
        send_high_water: write-buffer bytes above which a connection counts as a slow consumer.
        http_concurrency: HTTP API requests running at once (with ``http_app``); beyond it 503
            with ``Retry-After`` in the API's error shape.
        docs_file: served at ``/api/docs``.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    allowed_origins: list[str | None] | None = None
    max_message_bytes: int = protocol.MAX_MESSAGE_BYTES
    hard_max_bytes: int = 1024 * 1024
    rate: float = 20.0
    burst: int = 40
    abuse_limit: int = 50
    abuse_window: float = 10.0
    max_connections: int = 10_000
    max_per_address: int | None = 256
    max_subscriptions: int = 90
    idle_timeout: float | None = 300.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    close_timeout: float = 5.0
    write_timeout: float | None = 20.0
    backlog: int = 1024
    send_high_water: int = 64 * 1024
    http_concurrency: int = 256
    docs_file: Path = field(default_factory=lambda: DEFAULT_DOCS_FILE)

    def origins(self) -> list[Any] | None:
        """The ``origins`` argument for ``websockets.serve`` (None = accept any)."""
        if self.allowed_origins is None:
            return list(LOCAL_ORIGINS)
        if "*" in self.allowed_origins:
            return None
        return [None if o in (None, "", "null-header") else o for o in self.allowed_origins]

    def session_limits(self) -> SessionLimits:
        """The per-connection limits handed to each :class:`LiveSession`."""
        return SessionLimits(rate=self.rate, burst=self.burst, abuse_limit=self.abuse_limit,
                             abuse_window=self.abuse_window,
                             max_subscriptions=self.max_subscriptions,
                             max_message_bytes=self.max_message_bytes)


class ConnectionInfo:
    """Registry entry of one connection: its socket, its :class:`LiveSession` (the rules),
    traffic counts and the slow-consumer outbox."""

    __slots__ = (
        "address",
        "closing",
        "connected_at",
        "dropped",
        "id",
        "last_seen",
        "messages_in",
        "messages_out",
        "outbox",
        "pending",
        "session",
        "writer",
        "ws",
    )

    def __init__(self, ws: ServerConnection, address: str, limits: SessionLimits) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.session = LiveSession(self.id, limits)
        self.ws = ws
        self.address = address
        self.connected_at = time.time()
        self.last_seen = self.connected_at
        self.messages_in = 0
        self.messages_out = 0
        # slow-consumer outbox: latest undelivered update per topic -> (text, superseded count)
        self.outbox: dict[Topic, tuple[str, int]] = {}
        self.writer: asyncio.Task[None] | None = None
        # topics being resumed: live updates wait here until the backlog is sent
        self.pending: dict[Topic, list[tuple[str, str]]] = {}
        self.dropped = 0
        # the close started when the session decided to close (frames are drained meanwhile)
        self.closing: asyncio.Task[None] | None = None

    @property
    def subscriptions(self) -> set[Topic]:
        """The topics of this connection (the session's set)."""
        return self.session.topics

    def describe(self) -> dict[str, Any]:
        """JSON metadata for ``/api/v1/ws/stats?detail=1``."""
        return {
            "id": self.id, "remote_address": self.address,
            "connected_since": _iso(self.connected_at), "last_seen": _iso(self.last_seen),
            "subscriptions": sorted(t.key for t in self.subscriptions),
            "messages_in": self.messages_in, "messages_out": self.messages_out,
            "superseded_updates": self.dropped,
        }


def _iso(ts: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class LiveServer:
    """The live forecast server.

    Args:
        forecast_fn: ``(commodity, horizon) -> dict`` (sync: run in a worker thread; or async).
        config: settings and limits.
        broker: fan-out backend (default: a new :class:`MemoryBroker`).
        http_app: an ASGI app (the HTTP API, :func:`energy_nb.live.http_api.build_api`) served
            on the same port for every request that is not a ``GET`` of the socket's own
            paths (see :mod:`energy_nb.live.http_bridge`); None: those get 404/400 as before.
    """

    def __init__(self, forecast_fn: ForecastFn, config: LiveConfig | None = None,
                 broker: Broker | None = None, http_app: Any = None) -> None:
        self.http_app = http_app
        self.http_bridge: Any = None
        self.forecast_fn = forecast_fn
        self.config = config or LiveConfig()
        self.broker = broker or MemoryBroker()
        self.broker.add_listener(self._on_entry)
        self.connections: dict[str, ConnectionInfo] = {}
        self._per_address: dict[str, int] = {}
        #: effective connection limit (``config.max_connections`` fitted to the fd limit)
        self.max_connections = self.config.max_connections
        self._watchdog: asyncio.Task[None] | None = None
        self._subscribers: dict[Topic, set[ConnectionInfo]] = {}
        self._inflight: dict[Topic, asyncio.Future[dict[str, Any]]] = {}
        self._server: Server | None = None
        self.started_at = time.time()
        self.counters = {"messages_in": 0, "messages_out": 0, "errors_sent": 0,
                         "rate_limited": 0, "rejected_full": 0, "broadcasts": 0,
                         "superseded_updates": 0, "write_timeouts": 0,
                         "handshakes_dropped": 0, "accept_errors": 0}
        self.broadcast_seconds: list[float] = []
        self.admission = Admission(self.max_connections, self.config.max_per_address,
                                   self.counters)
        self._accept_errors = AcceptErrorLog(self.admission, self.counters)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the broker and listen."""
        await self.broker.start()
        cfg = self.config
        self.max_connections, backlog = fd_budget(cfg.max_connections, cfg.backlog)
        self.admission.max_connections = self.max_connections
        if self.max_connections < cfg.max_connections:
            logger.warning(
                "max_connections lowered from %d to %d to fit the open-files limit of %d "
                "(raise it with `ulimit -n` to serve more clients)", cfg.max_connections,
                self.max_connections, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        self._accept_errors.install(asyncio.get_running_loop())
        connection: Any = functools.partial(TrackedConnection, admission=self.admission)
        if self.http_app is not None:
            from energy_nb.live.http_bridge import HttpBridge, RoutedConnection

            self.http_bridge = HttpBridge(self._with_socket_routes(self.http_app),
                                          limit_concurrency=cfg.http_concurrency)
            connection = functools.partial(
                RoutedConnection, admission=self.admission, bridge=self.http_bridge,
                socket_paths=frozenset((WS_PATH, HEALTH_PATH, STATS_PATH, DOCS_PATH)))
        self._server = await serve(
            self._handler, cfg.host, cfg.port,
            create_connection=connection,  # type: ignore[arg-type]
            process_request=self._process_request,
            origins=cfg.origins(),
            max_size=cfg.hard_max_bytes,
            ping_interval=cfg.ping_interval, ping_timeout=cfg.ping_timeout,
            close_timeout=cfg.close_timeout,
            backlog=backlog,
            compression=None,
            logger=ws_logger,
        )
        if cfg.write_timeout is not None:
            self._watchdog = asyncio.ensure_future(self._close_stalled(cfg.write_timeout))
        logger.info("live server listening on %s", self.url)

    async def stop(self) -> None:
        """Close every connection (1001), stop listening and close the broker."""
        if self._server is not None:
            for conn in list(self.admission.stalled):  # they cannot take a close frame
                cut(conn, CloseCode.GOING_AWAY, "server shutting down")
            self._server.close()
            self.admission.drop_handshakes()  # else shutdown waits for their open timeout
            if self.http_bridge is not None:
                await self.http_bridge.shutdown()
            await self._server.wait_closed()
            self._server = None
            self._accept_errors.uninstall()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for info in list(self.connections.values()):
            if info.writer is not None:
                info.writer.cancel()
        await self.broker.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        assert self._server is not None, "call start() first"
        await self._server.serve_forever()

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        assert self._server is not None, "server not started"
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The WebSocket URL of the forecast endpoint."""
        return f"ws://{self.config.host}:{self.port}{WS_PATH}"

    # --- server-side API --------------------------------------------------------------------

    async def compute_forecast(self, topic: Topic) -> dict[str, Any]:
        """Compute a forecast for a topic (concurrent calls for one topic share one computation).

        Args:
            topic: the topic.

        Returns:
            The forecast payload from the forecast function.
        """
        running = self._inflight.get(topic)
        if running is not None:
            return await asyncio.shield(running)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._inflight[topic] = future
        try:
            if inspect.iscoroutinefunction(self.forecast_fn):
                result = await self.forecast_fn(topic.commodity, topic.horizon)
            else:
                result = await asyncio.to_thread(self.forecast_fn, topic.commodity, topic.horizon)
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        finally:
            self._inflight.pop(topic, None)

    async def broadcast_forecast_update(self, commodity: str, horizon: int) -> str:
        """Compute the forecast of a topic and deliver it to every subscriber (all instances).

        Args:
            commodity: any case.
            horizon: 1..30.

        Returns:
            The update's ``seq``.

        Raises:
            ProtocolError: for an invalid topic; BrokerError: when the broker is unreachable.
        """
        topic = Topic.parse(commodity, horizon)
        forecast = await self.compute_forecast(topic)
        return await self.publish_forecast(topic, forecast)

    async def publish_forecast(self, topic: Topic, forecast: dict[str, Any]) -> str:
        """Publish an already computed forecast payload to a topic; returns its ``seq``."""
        message = protocol.forecast_update(topic, forecast, None)
        del message["seq"]
        return await self.broker.publish(topic, message)

    async def refresh(self, commodities: Iterable[str] | None = None) -> dict[str, str]:
        """Recompute and broadcast once per topic that has subscribers (on any instance).

        Args:
            commodities: limit to these commodities (default: all).

        Returns:
            ``{topic key: seq}`` of the updates published (an update kept by the broker during
            an outage, to be published when it returns, is not listed).
        """
        wanted = None if commodities is None else {protocol.validate_commodity(c)
                                                   for c in commodities}
        published: dict[str, str] = {}
        for topic in sorted(await self.broker.active_topics()):
            if wanted is not None and topic.commodity not in wanted:
                continue
            try:
                message = protocol.forecast_update(topic, await self.compute_forecast(topic), None)
                del message["seq"]
                seq = await self.broker.publish_or_buffer(topic, message)
            except Exception as exc:  # noqa: BLE001 - one topic must not stop the others
                logger.warning("refresh of %s failed: %s", topic.key, exc)
                continue
            if seq is not None:
                published[topic.key] = seq
        return published

    def stats(self, detail: bool = False) -> dict[str, Any]:
        """Connection and traffic statistics (``GET /api/v1/ws/stats``)."""
        times = sorted(self.broadcast_seconds[-1000:])
        result: dict[str, Any] = {
            "connections": len(self.connections),
            "subscribers": sum(len(s) for s in self._subscribers.values()),
            "topics": {t.key: len(s) for t, s in sorted(self._subscribers.items()) if s},
            "broker": type(self.broker).__name__,
            "uptime_seconds": round(time.time() - self.started_at, 3),
            **self.counters,
            "fanout_ms_median": round(times[len(times) // 2] * 1000, 3) if times else None,
        }
        if detail:
            result["connection_list"] = [c.describe() for c in self.connections.values()]
        return result

    # --- HTTP and handshake -----------------------------------------------------------------

    def _json_response(self, connection: ServerConnection, status: HTTPStatus,
                       payload: Any) -> Response:
        body = json.dumps(payload, indent=1).encode()
        headers = Headers([("Content-Type", "application/json"),
                           ("Content-Length", str(len(body))), ("Connection", "close")])
        return Response(status.value, status.phrase, headers, body)

    def _auth_refusal(self, request: Request,
                      query: dict[str, list[str]]) -> tuple[HTTPStatus, str] | None:
        """Why a request lacks a valid API key (status, text), or None when it may pass."""
        refusal = api_key_refusal(self.config.api_key, request.headers.get_all("X-API-Key"),
                                  query.get("api_key") or [])
        return None if refusal is None else (HTTPStatus(refusal[0]), refusal[1] + "\n")

    def _process_request(self, connection: ServerConnection,
                         request: Request) -> Response | None:
        if isinstance(connection, TrackedConnection):
            self.admission.request_received(connection)
        split = urlsplit(request.path)
        query = parse_qs(split.query)
        path = split.path.rstrip("/") or "/"
        if path == HEALTH_PATH:
            return self._json_response(connection, HTTPStatus.OK,
                                       {"status": "ok", "connections": len(self.connections)})
        if path == DOCS_PATH:
            try:
                body = self.config.docs_file.read_bytes()
            except OSError:
                return connection.respond(HTTPStatus.NOT_FOUND, "protocol document not found\n")
            headers = Headers([("Content-Type", "text/markdown; charset=utf-8"),
                               ("Content-Length", str(len(body))), ("Connection", "close")])
            return Response(200, "OK", headers, body)
        if path not in (STATS_PATH, WS_PATH):
            return connection.respond(HTTPStatus.NOT_FOUND, f"no route for {path}\n")
        refusal = self._auth_refusal(request, query)
        if refusal is not None:
            logger.info("rejected request to %s: %s", path, refusal[1].strip())
            return connection.respond(*refusal)
        if path == STATS_PATH:
            detail = (query.get("detail") or ["0"])[0] in ("1", "true")
            return self._json_response(connection, HTTPStatus.OK, self.stats(detail))
        return None

    def _with_socket_routes(self, app: Any) -> Any:
        """The ASGI app plus ``/healthz``, ``/api/v1/ws/stats`` and ``/api/docs``: a keep-alive
        HTTP connection that was handed to the HTTP API sends its later requests there."""
        from starlette.requests import Request as HttpRequest
        from starlette.responses import Response as HttpResponse

        async def routed(scope: dict[str, Any], receive: Any, send: Any) -> None:
            path = (scope.get("path") or "/").rstrip("/") or "/"
            if scope["type"] != "http" or scope["method"] != "GET" or path not in (
                    HEALTH_PATH, STATS_PATH, DOCS_PATH):
                await app(scope, receive, send)
                return
            request = HttpRequest(scope, receive)
            response: HttpResponse
            if path == HEALTH_PATH:
                response = HttpResponse(json.dumps({"status": "ok", "connections": len(
                    self.connections)}), media_type="application/json")
            elif path == DOCS_PATH:
                try:
                    body = self.config.docs_file.read_bytes()
                except OSError:
                    body = b""
                response = (HttpResponse(body, media_type="text/markdown; charset=utf-8")
                            if body else HttpResponse("protocol document not found\n", 404))
            else:
                refusal = api_key_refusal(self.config.api_key, request.headers.getlist(
                    "x-api-key"), request.query_params.getlist("api_key"))
                detail = request.query_params.get("detail", "0") in ("1", "true")
                response = (HttpResponse(refusal[1] + "\n", refusal[0]) if refusal else
                            HttpResponse(json.dumps(self.stats(detail), indent=1),
                                         media_type="application/json"))
            await response(scope, receive, send)

        return routed

    # --- the write deadline ----------------------------------------------------------------

    async def _close_stalled(self, timeout: float) -> None:
        """Watchdog: close (1008) connections whose write buffer has not drained for
        ``timeout`` seconds; this frees their slot and wakes every write waiting on them."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = loop.time()
            for conn, since in list(self.admission.stalled.items()):
                if now - since >= timeout:
                    self.counters["write_timeouts"] += 1
                    logger.warning("closing the connection from %s: %d bytes unsent for %.1f s "
                                   "(the client stopped reading)", conn.peer_address,
                                   conn.transport.get_write_buffer_size(), now - since)
                    self.admission.stalled.pop(conn, None)
                    cut(conn, CloseCode.POLICY_VIOLATION,
                        f"send buffer not drained within {timeout:g} s")

    # --- connection handling ----------------------------------------------------------------

    def _address(self, ws: ServerConnection) -> str:
        remote = ws.remote_address
        return str(remote[0]) if isinstance(remote, tuple) else str(remote)

    async def _handler(self, ws: ServerConnection) -> None:
        cfg = self.config
        address = self._address(ws)
        if len(self.connections) >= self.max_connections or (
                cfg.max_per_address is not None
                and self._per_address.get(address, 0) >= cfg.max_per_address):
            self.counters["rejected_full"] += 1
            await ws.close(1013, "server full; try again later")
            return
        info = ConnectionInfo(ws, address, cfg.session_limits())
        self.connections[info.id] = info
        self._per_address[address] = self._per_address.get(address, 0) + 1
        try:
            await self._serve_connection(info)
        except ConnectionClosed:
            pass
        except Exception:  # never let one connection's failure escape
            logger.exception("connection %s failed", info.id)
        finally:
            self._unregister(info)

    def _unregister(self, info: ConnectionInfo) -> None:
        self.connections.pop(info.id, None)
        left = self._per_address.get(info.address, 1) - 1
        if left > 0:
            self._per_address[info.address] = left
        else:
            self._per_address.pop(info.address, None)
        for topic in list(info.subscriptions):
            self._remove_subscription(info, topic)
        if info.writer is not None and not info.writer.done():
            info.writer.cancel()

    async def _serve_connection(self, info: ConnectionInfo) -> None:
        ws = info.ws
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        await self._carry_out(info, info.session.open((query.get("commodity") or [None])[0],
                                                      (query.get("horizon") or [None])[0]))
        idle = self.config.idle_timeout
        while True:
            try:
                if idle is None:
                    frame = await ws.recv()
                else:
                    async with asyncio.timeout(idle):
                        frame = await ws.recv()
            except TimeoutError:
                if not info.session.is_idle(idle):
                    continue
                await ws.close(1000, "idle timeout")
                return
            await self.handle_frame(info, frame)

    async def handle_frame(self, info: ConnectionInfo, frame: str | bytes) -> None:
        """Process one received frame: the connection's session applies the rules (rate limit,
        size, parsing, caps) and this server carries out the events it returns.

        Args:
            info: the connection.
            frame: a text (str) or binary (bytes) frame.
        """
        if info.session.closing:
            return  # keep reading so the closing handshake can complete
        info.messages_in += 1
        info.last_seen = time.time()
        self.counters["messages_in"] += 1
        refused = info.session.rate_limited
        events = info.session.receive(frame)
        self.counters["rate_limited"] += info.session.rate_limited - refused
        await self._carry_out(info, events)

    async def _carry_out(self, info: ConnectionInfo, events: list[Event]) -> None:
        """Do what the session asked, in order (the server's only part: I/O and the broker)."""
        for event in events:
            if isinstance(event, Send):
                if event.is_error:
                    self.counters["errors_sent"] += 1
                await self._send(info, event.message)
            elif isinstance(event, Close):
                # close in the background: the handler keeps draining frames meanwhile, else
                # a full receive queue would stop the peer's close frame from being read
                info.closing = asyncio.ensure_future(info.ws.close(event.code, event.reason))
            elif isinstance(event, Unsubscribe):
                self._remove_subscription(info, event.topic)
            else:
                await self._carry_out_work(info, event)

    async def _carry_out_work(self, info: ConnectionInfo,
                              event: Subscribe | ComputeForecast) -> None:
        action = "subscribe" if isinstance(event, Subscribe) else "forecast"
        try:
            if isinstance(event, Subscribe):
                if event.announce:
                    await self._subscribe(info, event.topic, event.last_seq, event.request_id)
                else:
                    self._add_subscription(info, event.topic)
                return
            try:
                forecast = await self.compute_forecast(event.topic)
            except Exception as exc:  # noqa: BLE001 - reported to the client as forecast_failed
                logger.warning("forecast %s failed: %s", event.topic.key, exc)
                self.counters["errors_sent"] += 1
                await self._send(info, info.session.forecast_failed(
                    event.topic, str(exc), event.request_id))
                return
            await self._send(info, info.session.forecast_reply(event.topic, forecast,
                                                                event.request_id))
        except ConnectionClosed:
            raise
        except Exception as exc:
            logger.exception("action %s failed on %s", action, info.id)
            await self._send(info, info.session.internal_error(action, exc, event.request_id))

    async def _subscribe(self, info: ConnectionInfo, topic: Topic, last_seq: str | None,
                         rid: str | int | None) -> None:
        if last_seq is None:
            self._add_subscription(info, topic)
            latest = await self._latest_seq(topic)
            await self._send(info, protocol.subscribed(topic, latest, rid))
            return
        # resume: hold live updates for this topic until the backlog has been sent
        info.pending[topic] = []
        self._add_subscription(info, topic)
        try:
            try:
                backlog = await self.broker.since(topic, last_seq)
            except BrokerError as exc:
                logger.warning("resume of %s failed: %s", topic.key, exc)
                backlog = None
            plan = info.session.plan_resume(last_seq, backlog)
            latest = plan.sent if backlog else await self._latest_seq(topic)
            await self._send(info, protocol.subscribed(topic, latest or last_seq, rid))
            sent = plan.sent
            if plan.resync:
                sent = await self._send_resync(info, topic, RESYNC_REASON) or sent
            for message in plan.messages:
                await self._send(info, message)
        finally:
            held = info.pending.pop(topic, [])
        for text in info.session.release_held(held, sent):
            await self._send_text(info, text)

    async def _latest_seq(self, topic: Topic) -> str | None:
        try:
            latest = await self.broker.latest(topic)
        except BrokerError:
            return None
        return latest[0] if latest else None

    async def _send_resync(self, info: ConnectionInfo, topic: Topic, reason: str) -> str | None:
        try:
            latest = await self.broker.latest(topic)
        except BrokerError:
            latest = None
        if latest is not None:
            seq, message = latest
            await self._send(info, protocol.resync({**message, "seq": seq}, reason))
            return seq
        try:
            forecast = await self.compute_forecast(topic)
        except Exception as exc:  # noqa: BLE001 - reported to the client as forecast_failed
            self.counters["errors_sent"] += 1
            await self._send(info, info.session.forecast_failed(topic, str(exc),
                                                                during="subscribe"))
            return None
        await self._send(info, protocol.resync(protocol.forecast_update(topic, forecast, None),
                                               reason))
        return None

    def _add_subscription(self, info: ConnectionInfo, topic: Topic) -> None:
        info.subscriptions.add(topic)
        subs = self._subscribers.setdefault(topic, set())
        if not subs:
            subs.add(info)
            self.broker.set_local_topics(t for t, s in self._subscribers.items() if s)
        else:
            subs.add(info)

    def _remove_subscription(self, info: ConnectionInfo, topic: Topic) -> None:
        info.subscriptions.discard(topic)
        info.outbox.pop(topic, None)
        subs = self._subscribers.get(topic)
        if subs is not None:
            subs.discard(info)
            if not subs:
                del self._subscribers[topic]
                self.broker.set_local_topics(t for t, s in self._subscribers.items() if s)

    # --- sending ----------------------------------------------------------------------------

    async def _send(self, info: ConnectionInfo, message: dict[str, Any]) -> None:
        await self._send_text(info, protocol.encode(message))

    async def _send_text(self, info: ConnectionInfo, text: str) -> None:
        await info.ws.send(text)
        info.messages_out += 1
        self.counters["messages_out"] += 1

    def _on_entry(self, topic: Topic, seq: str, message: dict[str, Any]) -> None:
        """Broker listener: fan one update out to this instance's subscribers of ``topic``."""
        subs = self._subscribers.get(topic)
        self.counters["broadcasts"] += 1
        if not subs:
            return
        started = time.perf_counter()
        text = protocol.encode({**message, "seq": seq})
        high = self.config.send_high_water
        ready: list[ServerConnection] = []
        for info in subs:
            if topic in info.pending:
                info.pending[topic].append((seq, text))
                continue
            transport = info.ws.transport
            if info.outbox or (transport is not None
                               and transport.get_write_buffer_size() > high):
                self._enqueue_slow(info, topic, text)
                continue
            ready.append(info.ws)
            info.messages_out += 1
        broadcast(ready, text)
        self.counters["messages_out"] += len(ready)
        self.broadcast_seconds.append(time.perf_counter() - started)
        if len(self.broadcast_seconds) > 2000:
            del self.broadcast_seconds[:1000]

    def _enqueue_slow(self, info: ConnectionInfo, topic: Topic, text: str) -> None:
        """Slow-consumer policy: keep only the latest undelivered update per topic."""
        previous = info.outbox.pop(topic, None)
        superseded = 0
        if previous is not None:
            superseded = previous[1] + 1
            info.dropped += 1
            self.counters["superseded_updates"] += 1
        info.outbox[topic] = (text, superseded)
        if info.writer is None or info.writer.done():
            info.writer = asyncio.ensure_future(self._drain_outbox(info))

    async def _drain_outbox(self, info: ConnectionInfo) -> None:
        try:
            while info.outbox:
                topic = next(iter(info.outbox))
                text, superseded = info.outbox.pop(topic)
                if superseded:
                    text = f'{text[:-1]},"superseded":{superseded}}}'
                await self._send_text(info, text)
        except ConnectionClosed:
            info.outbox.clear()
