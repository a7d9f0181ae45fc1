"""What a dashboard page downloads: plotly's widget bundle once, and no unused plotly copy.

Measured in Chromium on this 2-core machine (one visitor, browser CPU seconds until the first
chart): a stock Voilà page with one FigureWidget costs 5.5 s against 2.5 s for a static page with
one plotly chart. Two copies of plotly.js make the difference:

* every ``FigureWidget`` carries plotly's 5 MB widget bundle in its state, which the browser
  parses and compiles once per chart. The app serves that bundle at :data:`BUNDLE_ROUTE` and tells
  the kernels so (:data:`~energy_nb.viz.widget_bundle.BUNDLE_ENV`); the charts then import it
  by URL: one compile per page, cacheable (4.0 s);
* Voilà loads every installed JupyterLab extension, and ``jupyterlab-plotly`` (plotly's mime
  renderer, another 4.8 MB plotly.js) loads eagerly on every page. :func:`page_config_hook`
  leaves it out of every page not in :data:`MIME_RENDERER_PAGES` (3.2-3.6 s). Static charts
  (:class:`~energy_nb.viz.charts.StaticChart`) do not need it under the app: they draw with the
  served bundle (:mod:`energy_nb.viz.static_figure`). With the renderer, Models and Backtest
  took 3.4 s and 4.0 s to their first chart on a preheated kernel, History 2.7 s.

Usage (the app server does this; see :mod:`energy_nb.appserver.server`)::

    os.environ[BUNDLE_ENV] = bundle_url(base_url)        # before kernels start
    handlers.append((url_path_join(base_url, BUNDLE_ROUTE), BundleHandler, bundle_handler_args()))
    voila_configuration.page_config_hook = page_config_hook
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from tornado.web import StaticFileHandler

from energy_nb.viz.widget_bundle import BUNDLE_ENV

__all__ = ["BUNDLE_ENV", "BUNDLE_ROUTE", "MIME_RENDERER", "BundleHandler", "bundle_handler_args",
           "bundle_url", "page_config_hook", "MIME_RENDERER_PAGES"]

#: Route (below the base URL) of plotly's widget bundle.
BUNDLE_ROUTE = r"/energy_nb/static/plotly/(widgetbundle\.js)"
#: The JupyterLab extension holding plotly's mime renderer.
MIME_RENDERER = "jupyterlab-plotly"
#: Dashboards that display figures through plotly's mime renderer (a ``figure_mimebundle``
#: shown as output): none, under the app (``StaticChart`` draws with the served bundle);
#: ``tests/ui/test_mime_renderer_pages.py`` checks that this list is complete.
MIME_RENDERER_PAGES: frozenset[str] = frozenset()


def _plotly() -> tuple[Path, str]:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data", str(plotly.__version__)


def bundle_url(base_url: str = "/") -> str:
    """URL path of the bundle, versioned by plotly's version (so browsers may cache it for good).

    Args:
        base_url: the server's base URL (``/`` or ``/prefix/``).

    Returns:
        E.g. ``/energy_nb/static/plotly/widgetbundle.js?v=7.1.0``.
    """
    version = _plotly()[1]
    return (base_url.rstrip("/") + "/energy_nb/static/plotly/widgetbundle.js?v=" + version)


class BundleHandler(StaticFileHandler):
    """Serves plotly's ``widgetbundle.js`` from the installed plotly package (and nothing else:
    the route's pattern admits that one file name)."""

    def set_extra_headers(self, path: str) -> None:
        """An ES module must be served as JavaScript."""
        self.set_header("Content-Type", "text/javascript; charset=utf-8")


def bundle_handler_args() -> dict[str, Any]:
    """Keyword arguments of :class:`BundleHandler` (the folder of plotly's bundle)."""
    return {"path": str(_plotly()[0])}


def page_config_hook(page_config: dict[str, Any], *, notebook_path: str | None = None,
                     mime_renderer_pages: Collection[str] = MIME_RENDERER_PAGES,
                     **_: Any) -> dict[str, Any]:
    """Voilà's ``page_config_hook``: drop plotly's mime renderer from pages that never use it.

    Args:
        page_config: the page configuration Voilà built (``federated_extensions``: a list of
            ``{"name": ...}`` entries the page will load).
        notebook_path: the page's notebook (a name or a path; only its file name counts).
        mime_renderer_pages: notebooks that keep the renderer.

    Returns:
        The same configuration, without :data:`MIME_RENDERER` unless the page needs it.
    """
    name = Path(notebook_path or "").name
    if name in mime_renderer_pages:
        return page_config
    extensions = page_config.get("federated_extensions")
    if isinstance(extensions, list):
        page_config["federated_extensions"] = [
            ext for ext in extensions
            if not (isinstance(ext, dict) and ext.get("name") == MIME_RENDERER)]
    return page_config
