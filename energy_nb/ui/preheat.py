"""Fresh pages from preheated Voilà kernels.

``energy-nb app`` keeps one preheated kernel per page: Voilà runs the notebook *before* anyone asks
for it, so the first visitor gets the page at once. The catch is that the page shows the store as
it was when the kernel started -- possibly hours before the visit, before the morning's data update
or evaluation. :func:`refresh_when_requested` closes that gap: a daemon thread waits for the
request that takes the kernel (``voila.utils.wait_for_request``), compares the store's
:meth:`~energy_nb.data.store.PriceStore.content_token` with the one taken at render time and, if it
changed, rebuilds the page on the kernel's event loop, swaps it into the displayed root widget
(normally before the browser has fetched the widget states) and closes the stale page's widgets.
Outside a preheated Voilà kernel (JupyterLab, nbval, a kernel Voilà started for the request) it
does nothing.

Usage (what :func:`energy_nb.ui.controls.page_root` does with a ``rebuild`` function)::

    root = widgets.VBox([page.widget])
    refresh_when_requested(root, page.store, lambda: HistoryPage(store))
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets

log = logging.getLogger(__name__)

#: Environment variable Voilà sets to "True" in the kernels it preheats.
PREHEAT_ENV = "VOILA_PREHEAT"
#: CSS class the root gets once the page was rebuilt (visible to operations and browser tests).
REFRESHED_CLASS = "enb-refreshed"
#: Set in the kernel's environment by ``wait_for_request`` once the request info arrived.
REQUEST_ENV = "SERVER_SOFTWARE"
#: Seconds after a swap at which the root's whole state is sent again. A browser that was
#: fetching the widget states while the swap happened drops the root's update messages that
#: arrive before it has created the root's model; the later full state brings it in line.
RESYNC_DELAYS = (2.0, 6.0)


def in_preheated_kernel() -> bool:
    """Whether this process is a kernel Voilà preheated (and so renders before the request)."""
    return os.environ.get(PREHEAT_ENV) == "True"


def on_request(action: Callable[[], None],
               wait: Callable[[], None] | None = None) -> threading.Thread | None:
    """Run ``action`` on the kernel's event loop when the visitor's request arrives.

    Args:
        action: what to do (exceptions are logged, never raised into the kernel).
        wait: blocks until the request arrives (default: Voilà's ``wait_for_request``, and
            only in a preheated kernel); tests pass their own.

    Returns:
        The started daemon thread, or ``None`` when there is nothing to wait for (not in a
        preheated kernel, or no running event loop).
    """
    if wait is None:
        if not in_preheated_kernel():
            return None
        wait = _voila_wait
    try:
        loop = asyncio.get_running_loop()  # the kernel's loop: cells run inside it
    except RuntimeError:
        return None

    def run() -> None:
        try:
            action()
        except Exception:
            log.exception("updating the preheated page for the request failed")

    def watch() -> None:
        try:
            wait()
        except Exception:
            log.exception("waiting for the Voilà request failed; the page stays as rendered")
            return
        loop.call_soon_threadsafe(run)

    thread = threading.Thread(target=watch, name="enb-preheat-refresh", daemon=True)
    thread.start()
    return thread


def refresh_when_requested(
    root: widgets.Box,
    store: Any,
    rebuild: Callable[[], Any],
    wait: Callable[[], None] | None = None,
    then: Callable[[], None] | None = None,
    stale: Callable[[], bool] | None = None,
) -> threading.Thread | None:
    """Rebuild the page in ``root`` when the store changed between render and request.

    Args:
        root: the displayed container; its only child is the page's widget, and ``root.page``
            the page object (replaced on rebuild, and the root gets the class ``enb-refreshed``).
        store: the page's store (has ``content_token()``); ``None`` disables the refresh.
        rebuild: builds a new page object (with a ``widget``) from the current store.
        wait: as for :func:`on_request`.
        then: run after the check (rebuilt or not), e.g. binding the URL state to the page.
        stale: also rebuild when this says so at the visit (e.g. the request's query string
            selects something else than the preheated page shows).

    Returns:
        The started daemon thread, or ``None`` when there is nothing to do (not in a preheated
        kernel, no store, no running event loop).
    """
    if store is None or not hasattr(store, "content_token"):
        return None
    if wait is None and not in_preheated_kernel():
        return None
    try:
        token = store.content_token()
    except Exception:  # a broken store already shows its message in the page
        log.exception("cannot read the store's content token")
        return None

    def swap() -> None:
        try:
            if store.content_token() != token or (stale is not None and stale()):
                rebuild_now()
        finally:
            if then is not None:
                then()

    def rebuild_now() -> None:
        log.info("store or request changed what the preheated page shows: rebuilding it")
        page = rebuild()
        old = root.page
        root.children = (page.widget, *root.children[1:])  # keep e.g. the URL state widget
        root.page = page
        root.add_class(REFRESHED_CLASS)
        close_tree(getattr(old, "widget", None))  # the browser need not load the stale page
        loop = asyncio.get_running_loop()
        for delay in RESYNC_DELAYS:
            loop.call_later(delay, resend_state, root)

    return on_request(swap, wait)


def resend_state(widget: widgets.Widget) -> None:
    """Send a widget's whole state to the browser again (nothing once it is closed).

    Args:
        widget: the widget, e.g. a page root after a swap.
    """
    if widget.comm is not None:
        widget.send_state()


def close_tree(widget: widgets.Widget | None) -> None:
    """Close a widget, its layout and style, and every widget inside it (boxes' children).

    Args:
        widget: the root of the tree; ``None`` does nothing.
    """
    if widget is None:
        return
    for child in getattr(widget, "children", ()) or ():
        close_tree(child)
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if isinstance(part, widgets.Widget):
            part.close()
    widget.close()


def voila_query_url(environ: Mapping[str, str] | None = None) -> str:
    """The WebSocket on which Voilà sends a preheated kernel its request's information.

    Built from the variables Voilà sets in the kernels it preheats, as
    ``voila.utils.wait_for_request`` builds it (Voilà 0.5).

    Args:
        environ: the kernel's environment (default ``os.environ``).

    Returns:
        e.g. ``ws://127.0.0.1:8866/voila/query/<kernel id>``.
    """
    env = os.environ if environ is None else environ
    base = env.get("VOILA_WS_BASE_URL", env.get("VOILA_SERVER_URL", "/"))
    return (f"{env.get('VOILA_WS_PROTOCOL', 'ws')}://{env.get('VOILA_APP_IP', '127.0.0.1')}:"
            f"{env.get('VOILA_APP_PORT', '8866')}{base}voila/query/"
            f"{env.get('VOILA_KERNEL_ID')}")


def _voila_wait() -> None:
    """Block until Voilà hands this preheated kernel to a request (raises if it never can).

    What ``voila.utils.wait_for_request`` does, without importing ``voila.utils``: that module
    pulls jupyter_server, nbconvert, jinja2 and requests into the kernel (about 24 MiB and 550
    modules in every preheated or warm kernel, so in most visitors' kernels) for one WebSocket
    message.
    """
    from websockets.sync.client import connect

    with connect(voila_query_url(), open_timeout=5, max_size=None) as websocket:
        info = websocket.recv()  # sent when a visitor's request takes this kernel
    for key, value in json.loads(info).items():
        os.environ[key] = str(value)
    if not os.environ.get(REQUEST_ENV, "").startswith("voila/"):
        raise RuntimeError("no request info received from Voilà")
