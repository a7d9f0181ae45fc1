"""Plotly figures and the look shared by the dashboards (:mod:`energy_nb.ui`) and the reports
(:mod:`energy_nb.reports`); no widgets, sockets or files.

Modules: :mod:`~energy_nb.viz.charts` (pure figure builders, plus the FigureWidget helpers the
pages use), :mod:`~energy_nb.viz.theme` (units, colours, template, stylesheet, number formats),
:mod:`~energy_nb.viz.widget_bundle` (plotly's widget bundle served by the app server),
:mod:`~energy_nb.viz.plotly_setup` (process-wide plotly settings, applied on first import).

Usage::

    from energy_nb.viz.charts import price_history_figure
"""

from energy_nb.viz.plotly_setup import prepare as _prepare

_prepare()
