"""The application layer between the core and the faces (CLI, dashboards, live server, reports).

- :mod:`energy_nb.service.requests`: the input rules and their error messages, once, and one
  request type per operation; every face (CLI argument types, widget limits, the socket
  protocol, report parameters, the HTTP API) takes them from there.
- :mod:`energy_nb.service.queries`: the operations the HTTP API serves.
- :mod:`energy_nb.service.forecasting`: :class:`ForecastService`, the one forecast service and
  its cache of fitted models (pages, CLI, reports, HTTP API and live server).
- :mod:`energy_nb.service.registry`: :class:`ModelRegistry`, the model-run records.
- :mod:`energy_nb.service.analytics`, :mod:`energy_nb.service.diagnostics`: what the History,
  Forecast and Models pages and the reports show, computed without widgets.
"""
