"""What a warm dashboard kernel imports before it knows which page it will show.

The app server keeps *warm* kernels (:mod:`energy_nb.appserver.warm`): started, with these
modules imported, so that building a page in one costs only the page itself. The list is every
page module and the libraries their first render needs; a module imported here and not used by
the page costs memory, not time.

Usage::

    from energy_nb.ui.preload import preload
    preload()   # what a warm kernel runs (energy_nb.appserver.warm.PRELOAD_CODE)
"""

from __future__ import annotations

import importlib

#: Modules a dashboard's first render uses (pages, widgets, plotly's figure classes, pandas).
#: :mod:`energy_nb.viz` comes first: importing it applies
#: :func:`energy_nb.viz.plotly_setup.prepare`, which must run before plotly's renderers are
#: imported (otherwise every warm kernel compiles ``rfc3987_syntax``'s grammars: about 1 CPU s
#: and 16 MiB per kernel).
MODULES: tuple[str, ...] = (
    "energy_nb.viz",
    "pandas",
    "ipywidgets",
    "plotly.graph_objects",
    "plotly.basewidget",
    "energy_nb.viz.static_figure",
    "energy_nb.ui.landing",
    "energy_nb.ui.history",
    "energy_nb.ui.forecast",
    "energy_nb.ui.models",
    "energy_nb.ui.backtest",
)

def preload(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Import ``modules`` (those that exist; a missing optional page is skipped).

    Args:
        modules: dotted module names.

    Returns:
        The modules imported.
    """
    done = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a page module that exists but fails is a real error
                raise
            continue
        done.append(name)
    return done
