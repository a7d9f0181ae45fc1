"""Dashboard pages and their shared widgets.

Modules: :mod:`~energy_nb.ui.controls` (shared controls), :mod:`~energy_nb.ui.charts` (plotly figure
builders), :mod:`~energy_nb.ui.theme` (one look: titles, units, colours), :mod:`~energy_nb.ui.history`
(History page), :mod:`~energy_nb.ui.landing` (landing page). Import the page you need, e.g.
``from energy_nb.ui.history import build_history_page``; this package imports nothing eagerly so a
page pulls only what it uses.
"""
