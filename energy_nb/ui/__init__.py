"""Dashboard pages and their shared widgets.

Modules: :mod:`~energy_nb.ui.controls` (shared controls), :mod:`~energy_nb.ui.nav` (pages,
navigation bar, page header), one module per page (e.g. :mod:`~energy_nb.ui.history`,
:mod:`~energy_nb.ui.landing`). The figures and the theme are in :mod:`energy_nb.viz`, shared
with the reports. Import the page you need, e.g.
``from energy_nb.ui.history import build_history_page``; this package imports nothing eagerly
and changes nothing on import, so a page pulls only what it uses.
"""
