"""The app server: Voilà with the project's front door, page allowlist and visitor control.

Differences from ``voila <folder>``:

* ``/`` renders the landing page (``index.ipynb``); ``/<page>.ipynb`` redirects to the rendered
  page, so the landing page's relative links work from either URL;
* only the dashboards are rendered: the notebooks at the top of the folder except the research
  and report notebooks (``EnergyVoila.research_notebooks``); anything else is a 404, so no path
  reaches another file;
* Voilà's file list (``/voila/tree``, ``/voila/api/contents``) only with ``EnergyVoila.tree``;
* kernels are managed by :class:`~energy_nb.appserver.kernels.VisitorKernelManager`: at most
  ``max_visitors`` pages at once (a 503 busy page beyond), and a page's kernel is released when
  its tab closes, when its browser never connects, or after ``idle_timeout`` idle seconds;
* ``GET /energy_nb/api/visitors`` reports the counts.

Usage (``energy_nb.app`` builds this command line)::

    python -m energy_nb.appserver notebooks/ --port=8866 --VisitorKernelManager.max_visitors=40
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

import voila.app as voila_app
from jupyter_server.utils import url_path_join
from traitlets import Bool, List, Unicode
from voila.app import Voila
from voila.tornado.contentshandler import VoilaContentsHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler
from voila.tornado.treehandler import TornadoVoilaTreeHandler

from energy_nb.appserver.handlers import (
    DashboardHandler,
    DashboardRedirectHandler,
    TrackingKernelWebsocketHandler,
    VisitLoadingHandler,
    VisitorStatusHandler,
)
from energy_nb.appserver.assets import (
    BUNDLE_ENV,
    BUNDLE_ROUTE,
    BundleHandler,
    bundle_handler_args,
    bundle_url,
    page_config_hook,
)
from energy_nb.appserver.kernels import with_visitor_tracking
from energy_nb.appserver.warm import with_warm_pool
from energy_nb.appserver.widget_state import patched_chunk_handlers

#: The landing page served at ``/``.
LANDING_NOTEBOOK = "index.ipynb"


def login_cookie_secret(key: str) -> bytes:
    """The secret signing login cookies when the dashboards require ``ENERGY_NB_API_KEY``:
    derived from the key, so that every instance sharing the key accepts the others' cookies.

    Args:
        key: the API key.

    Returns:
        32 bytes (HMAC-SHA256 of a fixed label under the key; the key itself is not revealed).
    """
    return hmac.new(key.encode(), b"energy_nb dashboards login cookie", hashlib.sha256).digest()


#: Seconds Voilà waits, after a cell's reply, for the rest of its output (nbclient's
#: ``iopub_timeout``, 4 s by default). On a machine serving a crowd the output of a page's cell
#: (the widget view the browser draws) can come later than 4 s after the reply; nbclient then
#: logs "Timeout waiting for IOPub output" and renders the page without it, and the visitor never
#: sees a chart. In bench_visitors' 32-at-once load, 13 such timeouts matched 13 failed visitors.
IOPUB_TIMEOUT_S = 120


def apply_executor_defaults(config: Any) -> None:
    """Set the app's executor defaults where the configuration does not set them.

    Args:
        config: the application's traitlets ``Config`` (the executor of every page, preheated
            or not, is built from it).
    """
    if "iopub_timeout" not in config.VoilaExecutor:
        config.VoilaExecutor.iopub_timeout = IOPUB_TIMEOUT_S


class EnergyVoila(Voila):
    """Voilà serving the energy_nb dashboards (see the module docstring)."""

    tree = Bool(False, config=True, help="Serve Voila's file list at /voila/tree.")
    require_api_key = Bool(
        False, config=True,
        help="Require ENERGY_NB_API_KEY as the login token (?token=KEY once, then a cookie); "
             "energy_nb.app sets it on a non-loopback address.")
    research_notebooks = List(
        Unicode(), ["explore.ipynb", "report.ipynb"], config=True,
        help="Notebooks of the folder that are never served as dashboards.")

    def dashboards(self) -> frozenset[str]:
        """Notebook names that may be rendered: top-level notebooks minus the research ones."""
        root = Path(self.root_dir)
        return frozenset(p.name for p in root.glob("*.ipynb")
                         if p.is_file() and p.name not in set(self.research_notebooks))

    def init_settings(self) -> dict:
        """Voilà's settings, with the visitor-tracking kernel manager on top of Voilà's."""
        apply_executor_defaults(self.config)
        if self.require_api_key:
            key = os.environ.get("ENERGY_NB_API_KEY", "").strip()
            if not key:
                self.log.critical("EnergyVoila.require_api_key is set but ENERGY_NB_API_KEY "
                                  "is empty; refusing to serve")
                self.exit(1)
            self.token = key
            if not any("cookie_secret" in self.config[section]
                       for section in ("Voila", "EnergyVoila")):
                # instances holding the key sign login cookies alike: behind a proxy, a visitor
                # moved to another instance (failover) or back after a restart stays logged in
                self.cookie_secret = login_cookie_secret(key)
        # Kernels (preheated, warm or started for a request) inherit this: their FigureWidgets
        # import plotly's bundle from BUNDLE_ROUTE instead of carrying it (assets.py).
        os.environ[BUNDLE_ENV] = bundle_url(self.base_url)
        self.voila_configuration.page_config_hook = _chain_page_config_hook(
            self.voila_configuration.page_config_hook)
        original = voila_app.voila_kernel_manager_factory

        def factory(*args: Any, **kwargs: Any) -> type:
            return with_visitor_tracking(with_warm_pool(original(*args, **kwargs)))

        voila_app.voila_kernel_manager_factory = factory
        try:
            return super().init_settings()
        finally:
            voila_app.voila_kernel_manager_factory = original

    def init_handlers(self) -> list:
        """Voilà's handlers with the dashboard, landing, tracking and status handlers swapped in."""
        if self.notebook_path:  # single-notebook mode: nothing to restrict beyond Voilà's own
            return super().init_handlers()
        dashboards = self.dashboards()
        root = url_path_join(self.server_url, "/")
        labextensions = url_path_join(self.server_url, r"/voila/labextensions/(.*)")
        handlers: list = []
        for spec in super().init_handlers():
            pattern, cls = spec[0], spec[1]
            kwargs = spec[2] if len(spec) > 2 else None
            if cls is VoilaKernelWebsocketHandler:
                handlers.append((pattern, TrackingKernelWebsocketHandler))
            elif cls is TornadoVoilaHandler:
                handlers.append((pattern, DashboardHandler, {**kwargs, "dashboards": dashboards}))
            elif cls in (TornadoVoilaTreeHandler, VoilaContentsHandler):
                if self.tree and pattern != root:
                    handlers.append(spec)
            else:
                if pattern == labextensions:  # the patched widget manager first (widget_state)
                    handlers.extend(patched_chunk_handlers(self.server_url,
                                                           self.labextensions_path))
                handlers.append(spec)
        render_kwargs = next(s[2] for s in handlers if s[1] is DashboardHandler)
        if LANDING_NOTEBOOK in dashboards:
            handlers.append((root, DashboardHandler,
                             {**render_kwargs, "notebook_path": LANDING_NOTEBOOK}))
        elif self.tree:
            handlers.append((root, TornadoVoilaTreeHandler,
                             {"voila_configuration": self.voila_configuration}))
        handlers.append((url_path_join(self.server_url, r"/energy_nb/api/visitors"),
                         VisitorStatusHandler))
        handlers.append((url_path_join(self.server_url, r"/energy_nb/api/loading/([\w-]+)"),
                         VisitLoadingHandler))
        handlers.append((url_path_join(self.server_url, BUNDLE_ROUTE), BundleHandler,
                         bundle_handler_args()))
        handlers.append((url_path_join(self.server_url, r"/([^/]+\.ipynb)"),
                         DashboardRedirectHandler, {"dashboards": dashboards}))
        return handlers

    def listen(self) -> None:
        """Start releasing abandoned kernels, then serve (blocks)."""
        for name in ("start_releasing", "start_warming"):
            start = getattr(self.kernel_manager, name, None)
            if start is not None:
                start()
        super().listen()


def _chain_page_config_hook(previous: Any) -> Any:
    """Our :func:`~energy_nb.appserver.assets.page_config_hook` after a configured one."""
    if previous is None:
        return page_config_hook

    def hook(page_config: dict, **kwargs: Any) -> dict:
        return page_config_hook(previous(page_config, **kwargs), **kwargs)

    return hook


main = EnergyVoila.launch_instance
