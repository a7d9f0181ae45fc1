"""Warm kernels: started and with the dashboards' libraries imported, ready to become any page.

Voilà preheats kernels *per page*: each runs its notebook before anyone asks for it. That serves
the first visitor of a page at once, but a crowd on one page (16 stakeholders opening the link in
the morning's email) finds one preheated kernel and fifteen kernels to start from nothing, all at
once, on two cores: Python, ipykernel, pandas, plotly, the page -- about 2 CPU seconds each
before the page can even be sent. Keeping 16 preheated kernels for *every* page would hold
gigabytes of memory for crowds that come to one page at a time.

:class:`WarmPoolKernelManager` keeps a second, shared pool of ``warm_pool_size`` *warm* kernels:
started and with the dashboards' modules imported (:func:`energy_nb.ui.preload.preload`), but no
page built. When a page's preheated kernel is taken (or still starting), the next visitor gets a
warm kernel and only the page itself runs in it (History: about 0.5 CPU s). Warm kernels refill one
at a time, once the crowd has been served (no warm kernel taken for ``warm_quiet`` seconds and no
page still loading), at a lower CPU priority (``warm_nice``): refilling neither competes with the
visitors being served nor holds memory while they are; a kernel handed to a visitor gets its
normal priority back when the OS allows it (as root; otherwise it stays at the lower priority,
which only orders it behind other visitors).

The pool is for the *next* crowd, and every open page already holds a kernel: while visitors are
open, the pool refills only to ``warm_pool_size`` minus the visitors open (at least
``warm_reserve``), and back to full as they leave. A crowd of 16 thus holds 16 kernels and a
couple of warm ones, not 16 plus a full pool (about 120 MiB per warm kernel; issue 12's target is
250 MiB per open visitor, pools included).

Usage (inside the app server; see :mod:`energy_nb.appserver.server`)::

    km_class = with_warm_pool(voila_kernel_manager_factory(...))   # Voilà's pools underneath
    km = km_class(parent=app, ...); km.start_warming()
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, Int, Unicode

#: The code a warm kernel executes (:func:`energy_nb.ui.preload.preload`): text run in the kernel,
#: so the app server itself imports no page code.
PRELOAD_CODE = "from energy_nb.ui.preload import preload as _enb_preload\n_enb_preload()\n"

#: Environment variables Voilà sets in the kernels it preheats (voila.utils.ENV_VARIABLE).
_PREHEAT = "VOILA_PREHEAT"


class WarmPoolKernelManager(AsyncMappingKernelManager):
    """Mixin over Voilà's ``VoilaKernelManager`` (see :func:`with_warm_pool`)."""

    warm_pool_size = Int(
        0, config=True,
        help="Warm kernels (libraries imported, no page built) kept for whichever page needs one "
             "when its own preheated kernel is taken; 0 = none.")
    warm_nice = Int(
        10, config=True,
        help="CPU niceness of warm kernels while they start and wait (0 = normal priority).")
    warm_kernel_name = Unicode("python3", config=True, help="Kernel spec of warm kernels.")
    warm_timeout = Float(120.0, config=True,
                         help="Seconds a warm kernel may take to start and import.")
    warm_quiet = Float(
        5.0, config=True,
        help="Refilling waits until no warm kernel was taken for this many seconds and no page "
             "is still loading (pages_loading(), when the manager has it): a crowd is served "
             "first, then the pool refills.")

    warm_reserve = Int(
        2, config=True,
        help="Warm kernels refilled even while many visitors are open: the pool refills to "
             "warm_pool_size minus the visitors open, but not below this.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._warm_stopped = False
        self._warm_ready: list[str] = []
        self._warm_starting = 0
        self._warm_filler: asyncio.Task | None = None
        self._warm_taken_at = float("-inf")
        self.warm_used = 0
        self.warm_failed = 0

    # ----- the pool ----------------------------------------------------------------------------
    def warm_kernels(self) -> int:
        """Warm kernels ready now."""
        self._warm_ready = [k for k in self._warm_ready if k in self]
        return len(self._warm_ready)

    def warm_target(self) -> int:
        """Warm kernels to hold now: ``warm_pool_size`` less the visitors open (their pages
        hold kernels already), at least ``warm_reserve`` (never more than the pool size).

        Returns:
            How many warm kernels (ready or starting) the pool refills to.
        """
        ledger = getattr(self, "ledger", None)  # VisitorKernelManager's, when it is mixed in
        open_visits = ledger.open_visits if ledger is not None else 0
        floor = min(self.warm_reserve, self.warm_pool_size)
        return max(floor, self.warm_pool_size - open_visits)

    def start_warming(self) -> None:
        """Fill the warm pool in the background (one kernel at a time)."""
        if self._warm_stopped:
            return
        if self.warm_pool_size > 0 and (self._warm_filler is None or self._warm_filler.done()):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # called before the server's loop runs (as Voila's pools are)
                loop = asyncio.get_event_loop()
            self._warm_filler = loop.create_task(self._fill_warm())

    def warm_refill_due(self, now: float) -> bool:
        """Whether the pool may start another kernel now: the crowd has been served."""
        loading = getattr(self, "pages_loading", None)
        return (now - self._warm_taken_at >= self.warm_quiet
                and (loading is None or loading() == 0))

    async def _fill_warm(self) -> None:
        failures = 0
        while self.warm_kernels() + self._warm_starting < self.warm_target():
            while not self.warm_refill_due(time.monotonic()):
                await asyncio.sleep(0.5)
            if self.warm_kernels() + self._warm_starting >= self.warm_target():
                break  # visitors arrived meanwhile: the pool is for the next crowd
            self._warm_starting += 1
            try:
                kernel_id = await asyncio.wait_for(self._start_warm(), self.warm_timeout)
            except Exception as exc:  # noqa: BLE001 - a kernel that fails to start is logged
                self.warm_failed += 1
                failures += 1
                self.log.warning("energy_nb: a warm kernel failed to start: %s", exc)
                if failures >= 3:
                    self.log.warning("energy_nb: warm pool stops refilling after 3 failures")
                    return
                await asyncio.sleep(2.0 * failures)
                continue
            finally:
                self._warm_starting -= 1
            self._warm_ready.append(kernel_id)
        self.log.info("energy_nb: warm pool holds %d kernel(s)", self.warm_kernels())

    async def _start_warm(self) -> str:
        """Start one kernel with the preheat environment, lower its priority, import the libs."""
        parent = self.parent
        env = dict(os.environ)
        env.update({
            "VOILA_BASE_URL": parent.base_url,
            "VOILA_SERVER_URL": parent.server_url,
            "VOILA_APP_PORT": str(parent.port),
            _PREHEAT: "True",
        })
        # Voilà's pool starts through the base class too, so a warm kernel is no visit.
        kernel_id = await super().start_kernel(  # type: ignore[misc]
            kernel_name=self.warm_kernel_name, path="", env=env)
        try:
            self._renice(kernel_id, self.warm_nice)
            started = time.monotonic()
            client = self.get_kernel(kernel_id).client()
            client.start_channels()
            try:
                await client.wait_for_ready(timeout=self.warm_timeout)
                reply = await client.execute_interactive(
                    PRELOAD_CODE, store_history=False, timeout=self.warm_timeout,
                    output_hook=lambda _msg: None)
            finally:
                client.stop_channels()
            if reply["content"].get("status") != "ok":
                raise RuntimeError(f"preloading failed: {reply['content'].get('ename')}: "
                                   f"{reply['content'].get('evalue')}")
            self.log.debug("energy_nb: warm kernel %s ready in %.1f s", kernel_id,
                           time.monotonic() - started)
            return kernel_id
        except BaseException:
            await self.shutdown_kernel(kernel_id, now=True)
            raise

    def _renice(self, kernel_id: str, nice: int) -> None:
        """Set the kernel process's niceness (raising priority back needs privileges: then it
        simply stays where it is)."""
        try:
            process = getattr(self.get_kernel(kernel_id).provisioner, "process", None)
            pid = getattr(process, "pid", None)
            if pid:
                os.setpriority(os.PRIO_PROCESS, pid, nice)
        except (OSError, KeyError, AttributeError):
            pass

    # ----- handing kernels to pages --------------------------------------------------------------
    async def get_rendered_notebook(self, notebook_name: str,
                                    extra_kernel_env_variables: dict | None = None,
                                    **kwargs: Any) -> Any:
        """The page's preheated kernel if one is ready; else a warm kernel that renders the page
        now; else (no warm kernel either) wait for the page's pool as Voilà does."""
        pool = self._pools.get(notebook_name, [])  # type: ignore[attr-defined]
        ready = next((i for i, task in enumerate(pool) if _ready(task)), None)
        if ready is None and self.warm_kernels():
            kernel_id = self._warm_ready.pop(0)
            self.warm_used += 1
            self._warm_taken_at = time.monotonic()
            self._renice(kernel_id, 0)
            # it waited idle, maybe for hours: it is a visitor's busy kernel now, which the
            # idle culler must not take before the page's cells start running in it
            self.get_kernel(kernel_id).last_activity = utcnow()
            self.start_warming()
            self.log.info("energy_nb: warm kernel %s renders %s", kernel_id, notebook_name)
            content = await self._initialize(notebook_name, kernel_id)  # type: ignore[attr-defined]
            renderer = content["renderer"]
            renderer.stop_generator = True  # stream the cells as they come, like a pool kernel
            return content["task"], renderer.rendered_cache, kernel_id
        if ready:  # Voilà takes the first: put a ready one first, ahead of those still starting
            pool.insert(0, pool.pop(ready))
        return await super().get_rendered_notebook(  # type: ignore[misc]
            notebook_name, extra_kernel_env_variables or {}, **kwargs)

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> Any:
        """A warm kernel shut down (by anyone) leaves the warm pool; a visitor's kernel shut
        down (the visitor left) lets the pool refill towards its full size."""
        if kernel_id in self._warm_ready:
            self._warm_ready.remove(kernel_id)
        try:
            return await super().shutdown_kernel(  # type: ignore[misc]
                kernel_id, *args, **kwargs)
        finally:
            self.start_warming()

    async def shutdown_all(self, *args: Any, **kwargs: Any) -> None:
        """Stop refilling, then shut everything down."""
        self._warm_stopped = True
        if self._warm_filler is not None:
            self._warm_filler.cancel()
        self._warm_ready = []
        await super().shutdown_all(*args, **kwargs)  # type: ignore[misc]


def _ready(task: asyncio.Future) -> bool:
    """A pool entry whose kernel has started (Voilà's entries are tasks of ``_initialize``)."""
    return task.done() and not task.cancelled() and task.exception() is None


def with_warm_pool(kernel_manager_class: type) -> type:
    """``kernel_manager_class`` (Voilà's, with preheated pools) with a warm pool on top.

    Args:
        kernel_manager_class: what ``voila_kernel_manager_factory`` returned; without
            preheated pools (no ``_pools``) it is returned unchanged.

    Returns:
        A class whose MRO is ``WarmPoolKernelManager, kernel_manager_class``.
    """
    if not hasattr(kernel_manager_class, "get_rendered_notebook"):
        return kernel_manager_class
    return type("WarmPoolVoilaKernelManager", (WarmPoolKernelManager, kernel_manager_class), {})
