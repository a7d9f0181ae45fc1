"""Tornado handlers of the app server: the dashboards (admission, page allowlist), the landing
page at ``/``, the busy page, kernel WebSocket tracking and the visitor status.

Usage: :class:`energy_nb.appserver.server.EnergyVoila` installs them in place of Voilà's.
"""

from __future__ import annotations

import html
import json
import os
import time
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from energy_nb.appserver.kernels import CURRENT_VISIT
from energy_nb.viz.widget_bundle import BUNDLE_ENV

_PAGE_SCRIPT = (Path(__file__).resolve().parent / "page_release.js").read_text(encoding="utf-8")


def duration_text(seconds: float) -> str:
    """``"15 minutes"``, ``"1 minute"``, ``"20 seconds"``: a readable duration."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    whole = int(round(seconds))
    return f"{whole} second{'s' if whole != 1 else ''}"


def page_script(idle_timeout: float) -> str:
    """The ``<script>`` inserted first in every dashboard's ``<head>`` (see page_release.js)."""
    return "<script>" + _PAGE_SCRIPT.replace("__IDLE_TEXT__", duration_text(idle_timeout)) + \
        "</script>"


def bundle_preload() -> str:
    """A ``<link rel="modulepreload">`` for plotly's widget bundle when the app serves it.

    The page's FigureWidgets import the bundle by URL (:mod:`energy_nb.appserver.assets`);
    fetching and compiling it while Voila's own scripts load means it is ready when the first
    chart's model initialises (anywidget gives a model 2 s to initialise).
    """
    url = os.environ.get(BUNDLE_ENV, "")
    return f'<link rel="modulepreload" href="{html.escape(url)}">' if url else ""


def loading_signal(url: str) -> str:
    """A ``<script>`` telling the server, as soon as the page's ``<head>`` is parsed, that a
    browser is loading it (so a slow load on a busy machine is not taken for a visitor who never
    came; see ``ReleasePolicy.load_timeout``)."""
    return ("<script>fetch(" + json.dumps(url).replace("</", "<\\/")
            + ", {cache: 'no-store', keepalive: true}).catch(() => {});</script>")


def busy_page(open_visits: int, retry_after: int) -> str:
    """The styled page a visitor gets when the app is full (served with HTTP 503).

    Args:
        open_visits: pages being served now.
        retry_after: seconds until a retry is likely to succeed; the page retries by itself then.

    Returns:
        A self-contained HTML document (no external resources).
    """
    wait = duration_text(retry_after)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{int(retry_after)}">
<title>energy_nb dashboards are busy</title>
<style>
  body {{ margin:0; min-height:100vh; display:flex; align-items:center; justify-content:center;
         background:#f4f6f8; color:#1f2933; font:16px/1.5 system-ui, sans-serif; }}
  main {{ max-width:34em; padding:2.5em 3em; background:#fff; border-radius:10px;
         box-shadow:0 4px 18px rgba(0,0,0,.08); border-top:4px solid #f0a020; }}
  h1 {{ font-size:1.5em; margin:0 0 .6em; }}
  .enb-retry {{ display:inline-block; margin-top:1em; padding:.5em 1.4em; border-radius:5px;
               background:#1f6feb; color:#fff; text-decoration:none; }}
</style></head>
<body><main class="enb-busy">
<h1>The dashboards are busy</h1>
<p>{open_visits} people are using the energy_nb dashboards right now, the most this server
serves at once. Please try again in {html.escape(wait)}; this page retries by itself then.</p>
<a class="enb-retry" href="">Try again now</a>
</main></body></html>
"""


class DashboardHandler(TornadoVoilaHandler):
    """Render a dashboard notebook: only the allowed pages, only while a visitor slot is free.

    Extra ``initialize`` keyword: ``dashboards`` (notebook names that may be rendered).
    """

    def initialize(self, **kwargs: Any) -> None:
        self.dashboards: frozenset[str] = frozenset(kwargs.pop("dashboards"))
        super().initialize(**kwargs)

    @tornado.web.authenticated
    async def get(self, path: str | None = None) -> None:
        """Serve the page, the busy page (503) when full, or 404 for anything not a dashboard."""
        page = self.notebook_path or path
        if page not in self.dashboards:
            raise tornado.web.HTTPError(404)
        manager = self.kernel_manager
        visit = None
        if hasattr(manager, "admit"):
            visit = await manager.admit(page)
            if visit is None:
                self._refuse(manager)
                return
        # The page's "shutdown my kernel" request on leaving sends this cookie back as _xsrf;
        # without it the request was refused (403, voila issue 1458) and the kernel leaked.
        self.xsrf_token  # noqa: B018 - accessing it sets the _xsrf cookie
        token = CURRENT_VISIT.set(visit)
        script = page_script(getattr(manager, "idle_timeout", 0.0)) + bundle_preload()
        if visit is not None:
            script += loading_signal(url_path_join(self.base_url, "energy_nb/api/loading",
                                                   visit.token))
        injected = False
        try:
            async for chunk in self.get_generator(path=path):
                if not injected and "<head>" in chunk:
                    chunk = chunk.replace("<head>", "<head>" + script, 1)
                    injected = True
                self.write(chunk)
                self.flush()
        finally:
            CURRENT_VISIT.reset(token)
            if visit is not None:
                manager.end_request(visit)

    def _refuse(self, manager: Any) -> None:
        retry = manager.ledger.retry_after(time.monotonic())
        self.log.warning("energy_nb: %d visitors (the maximum); refused %s",
                         manager.ledger.open_visits, self.request.path)
        self.set_status(503)
        self.set_header("Retry-After", str(retry))
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache, no-store, must-revalidate")
        self.finish(busy_page(manager.ledger.open_visits, retry))


class _PlainErrorPages:
    """Error pages without Jupyter's templates (which need a static path Voilà does not set)."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A small self-contained error page pointing to the landing page."""
        reason = html.escape(self._reason)  # type: ignore[attr-defined]
        self.set_header("Content-Type", "text/html; charset=UTF-8")  # type: ignore[attr-defined]
        self.finish(  # type: ignore[attr-defined]
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{status_code} {reason}"
            f"</title></head><body style='font:16px system-ui,sans-serif;margin:3em'>"
            f"<h1>{status_code} {reason}</h1><p>The dashboards are listed on the "
            f"<a href='/'>landing page</a>.</p></body></html>")


class DashboardRedirectHandler(_PlainErrorPages, JupyterHandler):
    """``/history.ipynb`` (a relative link of the landing page at ``/``) -> the rendered page."""

    def initialize(self, dashboards: frozenset[str]) -> None:
        self.dashboards = dashboards

    def get(self, name: str) -> None:
        """Redirect to ``/voila/render/<name>``, or 404 for anything not a dashboard."""
        if name not in self.dashboards:
            raise tornado.web.HTTPError(404)
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(url_path_join(self.base_url, "voila", "render", name) + query)


class TrackingKernelWebsocketHandler(VoilaKernelWebsocketHandler):
    """Voilà's kernel WebSocket, reporting opens, closes and messages to the kernel manager."""

    def _manager_call(self, name: str, *args: Any) -> Any:
        method = getattr(self.kernel_manager, name, None)
        return method(*args) if method is not None else None

    async def get(self, kernel_id: str) -> None:  # type: ignore[override]
        """Refuse a socket to a kernel being released (404), else connect as usual."""
        if self._manager_call("is_releasing", kernel_id):
            raise tornado.web.HTTPError(404)
        await super().get(kernel_id)

    async def open(self, kernel_id: str) -> None:  # type: ignore[override]
        """Count the connection, then connect to the kernel."""
        self._tracked_kernel = kernel_id
        self._manager_call("socket_opened", kernel_id, self)
        await super().open(kernel_id)

    def on_message(self, ws_message: Any) -> Any:
        """A message from the page: activity."""
        self._manager_call("socket_activity", self.kernel_id)
        return super().on_message(ws_message)

    def write_message(self, message: Any, binary: bool = False) -> Any:
        """A message to the page: activity."""
        kernel_id = getattr(self, "_tracked_kernel", None)
        if kernel_id is not None:
            self._manager_call("socket_activity", kernel_id)
        return super().write_message(message, binary)

    def on_close(self) -> None:
        """The page's socket closed."""
        kernel_id = getattr(self, "_tracked_kernel", None)
        if kernel_id is not None:
            self._manager_call("socket_closed", kernel_id, self)
        if getattr(self, "connection", None) is not None:
            super().on_close()


class VisitLoadingHandler(_PlainErrorPages, JupyterHandler):
    """``GET /energy_nb/api/loading/<token>``: the page of that visit is loading in a browser
    (204; 404 for no such open visit)."""

    def get(self, token: str) -> None:
        """Record the signal."""
        mark = getattr(self.kernel_manager, "page_loading", None)
        if mark is None or not mark(token):
            raise tornado.web.HTTPError(404)
        self.set_header("Cache-Control", "no-store")
        self.set_status(204)
        self.finish()


class VisitorStatusHandler(_PlainErrorPages, JupyterHandler):
    """``GET /energy_nb/api/visitors``: visitors, the maximum, pooled kernels (JSON, no ids)."""

    def get(self) -> None:
        """Answer the counts."""
        status = getattr(self.kernel_manager, "visitor_status", None)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(status() if status else {}))
