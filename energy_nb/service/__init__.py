"""The application layer between the core and the faces (CLI, dashboards, live server, reports).

So far: :mod:`energy_nb.service.requests` (one request type per operation, owning its rules and
error messages) and :mod:`energy_nb.service.queries` (the operations the HTTP API serves). The
REST API uses them; moving the CLI, widgets and report parameters onto them is still to do.
"""
