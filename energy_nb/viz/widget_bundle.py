"""One copy of plotly.js per page: FigureWidgets load plotly's widget bundle by URL.

plotly's ``FigureWidget`` is an anywidget whose front-end code (``_esm``) is plotly's 5 MB
``widgetbundle.js``. anywidget sends that code inside every FigureWidget's state: the kernel
serialises 5 MB per chart, the server relays it, and the browser parses it and compiles it again
for every chart (each one is imported from its own blob URL). With many visitors on two cores this
is most of a page's cost.

When the app server serves the bundle itself (it sets :data:`BUNDLE_ENV` in the kernels'
environment to the bundle's URL path), :func:`use_served_bundle` replaces that code by a few
hundred bytes that import the bundle from the server. The browser then fetches and compiles it
once per page (every chart imports the same URL, so the same module), and can cache it across
visits. In JupyterLab, nbval or a plain kernel the variable is unset and nothing changes.

Usage (done once when :mod:`energy_nb.ui` is imported)::

    from energy_nb.viz.widget_bundle import use_served_bundle
    use_served_bundle()   # no-op unless ENERGY_NB_PLOTLY_BUNDLE is set
"""

from __future__ import annotations

import json
import os

#: Environment variable holding the URL path of plotly's widget bundle on the app server.
BUNDLE_ENV = "ENERGY_NB_PLOTLY_BUNDLE"


def loader_source(path: str) -> str:
    """The ES module that stands in for plotly's bundle: it imports the bundle from ``path``.

    Args:
        path: URL path of the bundle on the serving host (e.g.
            ``/energy_nb/static/plotly/widgetbundle.js?v=7.1.0``), resolved against the page's
            own origin, so it works behind a proxy on any host name.

    Returns:
        JavaScript source of a module whose default export is the bundle's (plotly's anywidget
        definition).
    """
    # Each widget imports its own instance of the module (a distinct fragment: one fetch from
    # the HTTP cache, a module instance per chart), as anywidget's blob import of the inline
    # code gave it: plotly's widget code keeps per-figure state at module level.
    return ("const url = new URL(" + json.dumps(path) + ", window.location.href);\n"
            "url.hash = Math.random().toString(36).slice(2);\n"
            "const bundle = await import(url.href);\nexport default bundle.default;\n")


def served_bundle_path(environ: dict[str, str] | None = None) -> str:
    """URL path of plotly's widget bundle when the app server serves it, else ``""``.

    Args:
        environ: the environment to read :data:`BUNDLE_ENV` from (default ``os.environ``).

    Returns:
        E.g. ``/energy_nb/static/plotly/widgetbundle.js?v=7.1.0``; ``""`` in JupyterLab, nbval
        or any kernel the app server did not start.
    """
    return (os.environ if environ is None else environ).get(BUNDLE_ENV, "").strip()


def use_served_bundle(environ: dict[str, str] | None = None) -> bool:
    """Make every FigureWidget created from now on load plotly's bundle from the app server.

    Args:
        environ: the environment to read :data:`BUNDLE_ENV` from (default ``os.environ``).

    Returns:
        ``True`` when the loader is in place, ``False`` when the variable is unset (nothing done).
    """
    path = served_bundle_path(environ)
    if not path:
        return False
    from plotly.basewidget import BaseFigureWidget

    # anywidget reads ``_esm`` from the class when a widget is created; a string is sent as is.
    BaseFigureWidget._esm = loader_source(path)
    return True
