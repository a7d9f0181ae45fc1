"""Serve an ASGI app (the HTTP API, Starlette) on the live server's port, beside the WebSocket.

The ``websockets`` server reads only ``GET`` requests without a body, and the live socket keeps
its own connection handling (admission from ``accept``, write deadline, fd budget; see
:mod:`energy_nb.live.admission`). So the listening socket stays the ``websockets`` server's, and
each TCP connection looks at its request line first:

* ``GET`` of the socket's own paths (the WebSocket endpoint, ``/healthz``,
  ``/api/v1/ws/stats``, ``/api/docs``) goes on as before;
* anything else is handed, with the bytes already read, to a uvicorn HTTP protocol running the
  ASGI app (``transport.set_protocol``): from then on uvicorn reads and writes that socket and
  the WebSocket side forgets it.

Every connection counts against the live server's limits (``max_connections``, per address,
the open-files budget) from ``accept`` until it closes, HTTP ones included; until its request
line arrives it is a half-open socket the admission rules may drop. At most ``limit_concurrency``
HTTP requests run at once; beyond that a request gets 503 with ``Retry-After`` in the API's error
shape (``{"error": {"code": "busy", "message": ...}}``, :class:`InFlightLimit`), never uvicorn's
plain-text page. Idle keep-alive connections are closed after 5 s.

Usage::

    bridge = HttpBridge(starlette_app)
    server = LiveServer(forecast_fn, LiveConfig(port=0), http_app=starlette_app)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any

import uvicorn
from uvicorn.server import ServerState
from websockets.asyncio.connection import Connection

from energy_nb.live.admission import TrackedConnection
from energy_nb.live.http_api import ApiError, error_response

logger = logging.getLogger(__name__)

#: Longest request line looked at before deciding (longer ones go to the HTTP side, which
#: answers 400/414 itself).
MAX_REQUEST_LINE = 8192


class InFlightLimit:
    """ASGI middleware: at most ``limit`` HTTP requests in the app at once; beyond that 503 with
    ``Retry-After`` and a JSON body in the HTTP API's one error shape.

    Args:
        app: the ASGI application.
        limit: requests running at once.
        retry_after: seconds suggested to the client.

    Usage::

        app = InFlightLimit(starlette_app, limit=256)
    """

    def __init__(self, app: Any, limit: int, retry_after: int = 1) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.app, self.limit, self.retry_after = app, limit, retry_after
        self.running = 0
        self.refused = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.running >= self.limit:
            self.refused += 1
            message = (f"{self.running} requests are running (at most {self.limit} at once); "
                       f"try again in {self.retry_after} s")
            response = error_response(ApiError(503, "busy", message,
                                               retry_after=self.retry_after))
            await response(scope, receive, send)
            return
        self.running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.running -= 1


class HttpBridge:
    """uvicorn's HTTP/1.1 protocol for an ASGI app, created per handed-over connection.

    Args:
        app: the ASGI application.
        limit_concurrency: at most this many HTTP requests at once (:class:`InFlightLimit`);
            connections are limited by the live server's admission rules.
        keep_alive: seconds an idle keep-alive connection stays open.
    """

    def __init__(self, app: Any, limit_concurrency: int = 256, keep_alive: float = 5.0) -> None:
        self.limit = InFlightLimit(app, limit_concurrency)
        self.config = uvicorn.Config(self.limit, http="h11", ws="none", lifespan="off",
                                     access_log=False, log_config=None,
                                     log_level="warning", limit_concurrency=None,
                                     timeout_keep_alive=int(keep_alive), proxy_headers=False,
                                     server_header=False, date_header=False)
        self.config.load()
        self.state = ServerState()
        self.state.default_headers = list(self.config.encoded_headers)

    def protocol(self) -> asyncio.Protocol:
        """A new uvicorn protocol instance (not yet connected)."""
        return self.config.http_protocol_class(config=self.config, server_state=self.state,
                                               app_state={})

    @property
    def connections(self) -> int:
        """Open HTTP connections."""
        return len(self.state.connections)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Ask every HTTP connection to close after its current response; wait up to
        ``timeout`` seconds for running requests."""
        for connection in list(self.state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.state.tasks or self.state.connections) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()


class RoutedConnection(TrackedConnection):
    """A tracked WebSocket connection that hands itself over to the HTTP bridge when its
    request is not for the socket's own paths (pass ``bridge=`` and ``socket_paths=``)."""

    def __init__(self, *args: Any, bridge: HttpBridge, socket_paths: Collection[str],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bridge = bridge
        self.socket_paths = socket_paths
        self._head = b""
        self._routed = False
        self._handshake_task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # What ServerConnection.connection_made and TrackedConnection.connection_made do, with
        # a handle on the handshake task so that a hand-over can cancel it.
        Connection.connection_made(self, transport)
        self._handshake_task = self.loop.create_task(self.server.handler(self))
        self.server.handler_tasks.add(self._handshake_task)
        self.admission.opened(self)

    def data_received(self, data: bytes) -> None:
        if self._routed:
            super().data_received(data)
            return
        self._head += data
        end = self._head.find(b"\r\n")
        if end < 0 and len(self._head) < MAX_REQUEST_LINE:
            return  # wait for the whole request line
        head, self._head = self._head, b""
        self._routed = True
        if self._for_socket(head[:end] if end >= 0 else head):
            super().data_received(head)
        else:
            self._hand_over(head)

    def _for_socket(self, line: bytes) -> bool:
        method, _, rest = line.partition(b" ")
        target = rest.partition(b" ")[0].partition(b"?")[0].decode("latin-1")
        return method == b"GET" and (target.rstrip("/") or "/") in self.socket_paths

    def _hand_over(self, head: bytes) -> None:
        transport = self.transport
        self.admission.request_received(self)  # not a half-open socket any more
        task = self._handshake_task
        if task is not None:
            task.cancel()
            self.server.handler_tasks.discard(task)
        protocol = self.bridge.protocol()
        lost = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            self.admission.closed(self)  # counted until the HTTP connection closes
            lost(exc)

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(head)  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:
        if not self._routed and self._head:  # no full request line: websockets refuses it
            head, self._head = self._head, b""
            self._routed = True
            super().data_received(head)
        return super().eof_received()
