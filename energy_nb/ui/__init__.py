"""Dashboard pages and their shared widgets.

Modules: :mod:`~energy_nb.ui.controls` (shared controls), :mod:`~energy_nb.ui.charts` (plotly figure
builders), :mod:`~energy_nb.ui.theme` (one look: titles, units, colours),
:mod:`~energy_nb.ui.history` (History page), :mod:`~energy_nb.ui.landing` (landing page). Import the
page you need, e.g. ``from energy_nb.ui.history import build_history_page``; this package imports
nothing eagerly so a page pulls only what it uses.
"""

import sys as _sys


def _skip_rfc3987_syntax() -> None:
    """Keep ``rfc3987_syntax`` from loading in dashboard kernels (saves ~0.8 s per cold page).

    Creating the first ``FigureWidget`` imports plotly's renderers, which import nbformat, whose
    validator imports jsonschema, whose format checkers import ``rfc3987_syntax`` if installed
    (Jupyter's event schemas pull it in) -- and that compiles about 40 lark grammars at import.
    It is only used to check the ``iri`` / ``iri-reference`` JSON-schema formats, which nothing in
    a dashboard kernel validates. Marking the module as absent (``sys.modules[name] = None``)
    makes jsonschema's guarded import skip those two checkers. No-op when jsonschema or the
    module were already imported.
    """
    if "jsonschema" not in _sys.modules and "rfc3987_syntax" not in _sys.modules:
        _sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


_skip_rfc3987_syntax()


def _load_plotly_from_server() -> None:
    """FigureWidgets fetch plotly's bundle from the app server when it serves it (see
    :mod:`energy_nb.ui.widget_bundle`); elsewhere nothing changes."""
    from energy_nb.ui.widget_bundle import use_served_bundle

    use_served_bundle()


_load_plotly_from_server()
