"""Admission control for the live server's TCP connections (no protocol, no forecasts).

* Every TCP connection is counted from ``accept`` (:class:`TrackedConnection`), so that ones
  still in the opening handshake count against the server's limits. One beyond a limit may
  complete its handshake (the server then tells it 1013); for further ones the oldest connection
  that has not sent its HTTP request yet (a half-open socket) is dropped, or, when there is
  none, the new connection is refused at once.
* ``max_connections`` and the listen backlog are fitted to the process's open-files limit
  (:func:`fd_budget`).
* Connections whose write buffer is over its high-water mark are noted with the time
  (``Admission.stalled``); the server closes those that stay so too long (:func:`cut`).
* ``accept()`` failures (out of file descriptors) are counted and logged at most once per
  :data:`ACCEPT_LOG_INTERVAL` seconds, without traceback (:class:`AcceptErrorLog`).

Usage::

    max_connections, backlog = fd_budget(10_000, 1024)
    admission = Admission(max_connections, 256, counters)
    server = await serve(handler, host, port, backlog=backlog,
                         create_connection=functools.partial(TrackedConnection,
                                                             admission=admission))
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode

logger = logging.getLogger(__name__)

#: File descriptors kept free for everything but client sockets (broker, store, logs, ...).
FD_RESERVE = 64
#: asyncio's message for a failed ``accept()`` (EMFILE, ENFILE, ENOBUFS, ENOMEM).
ACCEPT_ERROR_MESSAGE = "socket.accept() out of system resource"
#: At most one log record per this many seconds for accept errors.
ACCEPT_LOG_INTERVAL = 10.0


def fd_budget(max_connections: int, backlog: int) -> tuple[int, int]:
    """Fit the connection limit and the listen backlog to the open-files limit.

    asyncio accepts up to ``backlog`` connections in one go before the server can refuse any,
    and a connection refused or dropped in one burst closes its socket only on a later turn of
    the event loop, while the next burst may already be accepted. So the descriptors must cover
    the held connections, two such bursts and the process's other files:
    ``max_connections + 1 + 2 * backlog + FD_RESERVE <= RLIMIT_NOFILE``.

    Args:
        max_connections: the configured connection limit.
        backlog: the configured listen backlog.

    Returns:
        ``(max_connections, backlog)``: the backlog capped at the kernel's ``somaxconn`` and an
        eighth of the open-files limit (at least 16); the connection limit at what is left
        (at least 1).
    """
    try:
        somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        somaxconn = 4096
    backlog = min(backlog, somaxconn)
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_connections, max(16, backlog)
    backlog = max(16, min(backlog, soft // 8))
    return max(1, min(max_connections, soft - 2 * backlog - FD_RESERVE - 1)), backlog


class _InfoAsDebug(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger adapter that writes ``info`` records at DEBUG."""

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


class TrackedConnection(ServerConnection):
    """A ``ServerConnection`` that reports its TCP lifetime and write stalls to an
    :class:`Admission` (pass ``admission=`` through ``functools.partial``)."""

    def __init__(self, *args: Any, admission: Admission, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.admission = admission
        self.peer_address = ""
        self.counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.admission.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.admission.closed(self)
        if self.request is None:  # never sent its request: no INFO line per half-open socket
            self.protocol.logger = _InfoAsDebug(self.protocol.logger, {})
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        self.admission.stalled[self] = self.loop.time()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.admission.stalled.pop(self, None)


class Admission:
    """TCP connection counts and limits of one server.

    Args:
        max_connections: total limit (already fitted with :func:`fd_budget`).
        max_per_address: per client address limit, or None.
        counters: the server's counters; ``rejected_full`` and ``handshakes_dropped`` are
            incremented here.

    Attributes:
        stalled: connections whose write buffer is over its high-water mark -> since when
            (event-loop time).
        total: open TCP connections (in the handshake or open).
    """

    def __init__(self, max_connections: int, max_per_address: int | None,
                 counters: dict[str, int]) -> None:
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.counters = counters
        self.total = 0
        self.stalled: dict[TrackedConnection, float] = {}
        self._by_address: dict[str, int] = {}
        # connections that have not sent their HTTP request yet, oldest first
        self._handshaking: dict[TrackedConnection, None] = {}
        self._handshaking_by_address: dict[str, dict[TrackedConnection, None]] = {}

    def opened(self, conn: TrackedConnection) -> None:
        """Count a new TCP connection; over a limit, drop the oldest handshake or this one."""
        peer = conn.transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        conn.peer_address = address
        cap = self.max_per_address
        over_address = cap is not None and self._by_address.get(address, 0) > cap
        if over_address or self.total > self.max_connections:
            waiting = self._handshaking_by_address.get(address) if over_address \
                else self._handshaking
            victim = next(iter(waiting), None) if waiting else None
            if victim is None:
                self.counters["rejected_full"] += 1
                conn.transport.abort()
                return
            self.counters["handshakes_dropped"] += 1
            self.request_received(victim)
            victim.transport.abort()
        conn.counted = True
        self.total += 1
        self._by_address[address] = self._by_address.get(address, 0) + 1
        self._handshaking[conn] = None
        self._handshaking_by_address.setdefault(address, {})[conn] = None

    def request_received(self, conn: TrackedConnection) -> None:
        """The connection sent its HTTP request (or was dropped): no longer waiting for it."""
        if conn in self._handshaking:
            del self._handshaking[conn]
            waiting = self._handshaking_by_address[conn.peer_address]
            del waiting[conn]
            if not waiting:
                del self._handshaking_by_address[conn.peer_address]

    def drop_handshakes(self) -> None:
        """Cut every connection that has not sent its HTTP request yet (at shutdown)."""
        for conn in list(self._handshaking):
            self.request_received(conn)
            conn.transport.abort()

    def closed(self, conn: TrackedConnection) -> None:
        """Uncount a closed TCP connection."""
        self.stalled.pop(conn, None)
        if not conn.counted:
            return
        conn.counted = False
        self.request_received(conn)
        self.total -= 1
        left = self._by_address[conn.peer_address] - 1
        if left:
            self._by_address[conn.peer_address] = left
        else:
            del self._by_address[conn.peer_address]


def cut(conn: ServerConnection, code: CloseCode, reason: str) -> None:
    """Close a connection that cannot take more data: record the close frame, drop the TCP.

    Every coroutine waiting to write to it (sends, the keepalive ping) wakes up, and its
    handler sees the connection closed.

    Args:
        conn: the connection.
        code: the close code recorded as sent (e.g. 1008).
        reason: the close reason.
    """
    try:
        conn.protocol.fail(code, reason)
        conn.send_data()
    except Exception:  # noqa: BLE001, S110 - the socket is cut below in any case
        pass
    conn.transport.abort()


class AcceptErrorLog:
    """Event-loop exception handler: ``accept()`` failures are counted and logged at most once
    per :data:`ACCEPT_LOG_INTERVAL` seconds, without traceback; anything else is passed on.

    Python 3.11 reports each failed ``accept()`` with a traceback, up to ``backlog`` times per
    loop iteration, while the process is out of file descriptors.

    Args:
        admission: for the connection count in the log line.
        counters: the server's counters (``accept_errors`` is incremented).

    Usage::

        log = AcceptErrorLog(admission, counters)
        log.install(asyncio.get_running_loop())
        ...
        log.uninstall()
    """

    def __init__(self, admission: Admission, counters: dict[str, int]) -> None:
        self.admission = admission
        self.counters = counters
        self.unreported = 0
        self._log_after = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Become the loop's exception handler (chaining to the previous one)."""
        self._loop, self._previous = loop, loop.get_exception_handler()
        loop.set_exception_handler(self)

    def uninstall(self) -> None:
        """Give the loop its previous handler back (if this one is still installed)."""
        loop, self._loop = self._loop, None
        if loop is not None and loop.get_exception_handler() is self:
            loop.set_exception_handler(self._previous)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_ERROR_MESSAGE or self._loop is None:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self.counters["accept_errors"] += 1
        self.unreported += 1
        now = time.monotonic()
        if now >= self._log_after:
            logger.error(
                "cannot accept connections: %s (%d failed accepts since the last report; open "
                "connections %d, open-files limit %d)", context.get("exception"),
                self.unreported, self.admission.total,
                resource.getrlimit(resource.RLIMIT_NOFILE)[0])
            self.unreported = 0
            self._log_after = now + ACCEPT_LOG_INTERVAL
