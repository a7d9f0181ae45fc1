"""Live forecast streaming: WebSocket protocol, server, brokers, feeds and the async client.

Usage::

    from energy_nb.live.server import LiveServer, LiveConfig
    from energy_nb.live.client import ForecastStream
"""
