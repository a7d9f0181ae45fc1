"""The app's kernel manager: admission slots, and release of kernels no visitor uses any more.

:class:`VisitorKernelManager` sits on top of Voilà's kernel manager (preheated pools included;
see :func:`with_visitor_tracking`). A kernel handed to a page (started for it, or taken from the
preheated pool) becomes a *visit* in a :class:`~energy_nb.appserver.visitors.VisitorLedger`; the
kernel WebSocket handler reports connections and messages; every ``release_interval`` seconds the
kernels the policy names are shut down. Pool kernels waiting for a visitor are never visits, so
they are never released, and the idle culler skips them.

Its traits are set from ``energy_nb.app`` (``--VisitorKernelManager.max_visitors=...``), beside
the pool settings of ``voila.json``.

Usage (inside the app server; see :mod:`energy_nb.appserver.server`)::

    km_class = with_visitor_tracking(voila_kernel_manager_factory(...))
    km = km_class(parent=app, ...); km.start_releasing()
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.ioloop import PeriodicCallback
from traitlets import Float, Int

from energy_nb.appserver.visitors import IDLE, ReleasePolicy, Visit, VisitorLedger

#: The visit of the page request being handled (set by the dashboard handler around rendering),
#: so the kernel started or taken from the pool for it is attached to it.
CURRENT_VISIT: contextvars.ContextVar[Visit | None] = contextvars.ContextVar(
    "energy_nb_current_visit", default=None)

#: WebSocket close code telling the page it was released for being idle (see page_script.js).
IDLE_CLOSE_CODE = 4001


class VisitorKernelManager(AsyncMappingKernelManager):
    """Kernel manager that admits at most ``max_visitors`` pages and releases abandoned kernels."""

    max_visitors = Int(
        64, config=True,
        help="Pages served at once (each holds a kernel); further visitors get a 503 page.")
    connect_timeout = Float(
        45.0, config=True,
        help="Seconds after a page was served within which its browser must connect its kernel.")
    load_timeout = Float(
        300.0, config=True,
        help="Seconds a page whose browser said it is loading (its first script ran) may take "
             "to connect its kernel (a crowd on a busy machine loads slowly).")
    disconnect_grace = Float(
        10.0, config=True,
        help="Seconds a kernel is kept after its page's last WebSocket closed.")
    idle_timeout = Float(
        900.0, config=True,
        help="Seconds without kernel messages after which an open page is released (0 = never).")
    release_interval = Float(5.0, config=True, help="Seconds between release checks.")
    admission_wait = Float(
        0.5, config=True,
        help="Seconds a request waits for a slot freeing up before it is answered 503.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger = VisitorLedger(
            max_visitors=self.max_visitors,
            policy=ReleasePolicy(connect_timeout=self.connect_timeout,
                                 load_timeout=self.load_timeout,
                                 disconnect_grace=self.disconnect_grace,
                                 idle_timeout=self.idle_timeout))
        self._sockets: dict[str, set[Any]] = {}
        self._slot_freed: asyncio.Event | None = None
        self._releaser: PeriodicCallback | None = None
        self.released: dict[str, int] = {}

    # ----- admission -------------------------------------------------------------------------
    async def admit(self, page: str) -> Visit | None:
        """Take a slot for a page view, waiting up to ``admission_wait`` s for one to free up.

        Returns:
            The visit, or ``None`` when the app is full.
        """
        deadline = time.monotonic() + self.admission_wait
        while True:
            visit = self.ledger.admit(page, time.monotonic())
            left = deadline - time.monotonic()
            if visit is not None or left <= 0:
                return visit
            event = self._slot_freed = self._slot_freed or asyncio.Event()
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), left)
            except asyncio.TimeoutError:
                pass

    def end_request(self, visit: Visit) -> None:
        """The page request ended: start the connect clock, or free a slot that got no kernel."""
        self.ledger.served(visit, time.monotonic())
        if visit.kernel_id is None:
            self._notify_slot_freed()

    def _notify_slot_freed(self) -> None:
        if self._slot_freed is not None:
            self._slot_freed.set()

    def _attach_current_visit(self, kernel_id: str) -> None:
        visit = CURRENT_VISIT.get()
        if visit is not None:
            self.ledger.attach(visit, kernel_id)

    # ----- kernels handed to pages -------------------------------------------------------------
    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        """Start a kernel; one started while a page request is handled belongs to its visit.

        (Voilà's pool refills call the base class directly, so pool kernels are no visits.)
        """
        kernel_id = await super().start_kernel(*args, **kwargs)
        self._attach_current_visit(kernel_id)
        return kernel_id

    async def get_rendered_notebook(self, *args: Any, **kwargs: Any) -> Any:
        """Take a preheated kernel (and its rendered page) from the pool for the current visit."""
        result = await super().get_rendered_notebook(*args, **kwargs)  # type: ignore[misc]
        self._attach_current_visit(result[2])
        return result

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:
        """Free its visitor's slot at once (a visitor moving to another page takes it over),
        then shut the kernel down."""
        if self.ledger.release(kernel_id) is not None:
            self._notify_slot_freed()
        self._sockets.pop(kernel_id, None)
        await super().shutdown_kernel(kernel_id, *args, **kwargs)

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        """Cull only kernels that served a page: pool kernels wait for visitors, however long."""
        if self.ledger.find(kernel_id) is None:
            return None
        return await super().cull_kernel_if_idle(kernel_id)

    def page_loading(self, token: str) -> bool:
        """The page of the visit named ``token`` is loading in a browser (its first script ran).

        Returns:
            Whether such a visit is open.
        """
        return self.ledger.loading(token)

    def pages_loading(self) -> int:
        """Pages served (or rendering) whose browser has not connected its kernel yet."""
        return sum(1 for v in self.ledger._visits if not v.ever_connected and not v.releasing)

    # ----- WebSocket tracking (called by the kernel WebSocket handler) -------------------------
    def is_releasing(self, kernel_id: str) -> bool:
        """The kernel is being released: refuse new WebSockets to it."""
        return self.ledger.is_releasing(kernel_id)

    def socket_opened(self, kernel_id: str, handler: Any) -> None:
        """A page's kernel WebSocket opened."""
        if self.ledger.connected(kernel_id, time.monotonic()):
            self._sockets.setdefault(kernel_id, set()).add(handler)

    def socket_closed(self, kernel_id: str, handler: Any) -> None:
        """A page's kernel WebSocket closed."""
        sockets = self._sockets.get(kernel_id)
        if sockets is not None and handler in sockets:
            sockets.discard(handler)
            self.ledger.disconnected(kernel_id, time.monotonic())

    def socket_activity(self, kernel_id: str) -> None:
        """A kernel message went either way."""
        self.ledger.activity(kernel_id, time.monotonic())

    # ----- release -----------------------------------------------------------------------------
    def start_releasing(self) -> None:
        """Check every ``release_interval`` seconds for kernels to release (on the IOLoop)."""
        if self._releaser is None:
            self._releaser = PeriodicCallback(self._release_due, self.release_interval * 1000)
            self._releaser.start()

    def _release_due(self) -> None:
        for kernel_id, reason in self.ledger.due(time.monotonic()):
            asyncio.ensure_future(self.release(kernel_id, reason))

    async def release(self, kernel_id: str, reason: str) -> None:
        """Shut down a visitor's kernel; an idle page is told why first (close code 4001).

        Args:
            kernel_id: the kernel.
            reason: ``never-connected``, ``left`` or ``idle``.
        """
        for handler in list(self._sockets.get(kernel_id, ())):
            try:
                handler.close(IDLE_CLOSE_CODE if reason == IDLE else 1001, reason)
            except Exception:  # noqa: BLE001 - a socket already gone
                pass
        self.log.info("energy_nb: releasing kernel %s (%s)", kernel_id, reason)
        try:
            await self.shutdown_kernel(kernel_id)
        except Exception as exc:  # noqa: BLE001 - gone already; never stop the releases
            self.log.info("energy_nb: kernel %s was already gone (%s)", kernel_id, exc)
            if self.ledger.release(kernel_id) is not None:
                self._notify_slot_freed()
        self.released[reason] = self.released.get(reason, 0) + 1

    # ----- status ------------------------------------------------------------------------------
    def pooled_kernels(self) -> int:
        """Preheated kernels waiting for a visitor (alive)."""
        count = 0
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                try:
                    if task.done() and task.result().get("kernel_id") in self:
                        count += 1
                except Exception:  # noqa: BLE001 - a failed pool start
                    pass
        return count

    def visitor_status(self) -> dict[str, Any]:
        """Counts for ``/energy_nb/api/visitors`` (no kernel ids: they grant kernel access)."""
        return {
            "visitors": self.ledger.open_visits,
            "max_visitors": self.ledger.max_visitors,
            "connected": self.ledger.connected_visits,
            "pooled": self.pooled_kernels(),
            "warm": self.warm_kernels() if hasattr(self, "warm_kernels") else 0,
            "warm_used": getattr(self, "warm_used", 0),
            "kernels": len(self.list_kernel_ids()),
            "released": dict(self.released),
            "idle_timeout": self.idle_timeout,
        }


def with_visitor_tracking(kernel_manager_class: type) -> type:
    """``kernel_manager_class`` (Voilà's, with or without pools) with visitor tracking on top.

    Args:
        kernel_manager_class: what ``voila_kernel_manager_factory`` returned.

    Returns:
        A subclass of both, :class:`VisitorKernelManager` first in its MRO, so that its
        ``start_kernel`` / ``get_rendered_notebook`` see the kernels handed to pages while
        Voilà's pool refills (which call the base class directly) do not.
    """
    return type("VisitorTrackingKernelManager", (VisitorKernelManager, kernel_manager_class), {})
