"""The live forecast server: WebSocket server and its per-connection rules, the HTTP API on its
port, brokers and feeds.

The socket's protocol and Python client are in :mod:`energy_nb.stream` (shared with the Live page
and researchers); ``energy_nb.live.protocol`` and ``energy_nb.live.client`` re-export them.

Usage::

    from energy_nb.live.server import LiveServer, LiveConfig
    from energy_nb.stream.client import ForecastStream
"""
