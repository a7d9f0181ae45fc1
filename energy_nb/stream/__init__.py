"""The live socket's protocol and its Python client, shared by the live server, the Live page and
researchers.

Neither is the server: :mod:`energy_nb.stream.protocol` is pure (parse, validate and build every
message; no I/O) and :mod:`energy_nb.stream.client` is the asyncio client
(:class:`~energy_nb.stream.client.ForecastStream`). The live server (``energy_nb.live``) and the
Live page (``energy_nb.ui.live``) both import them from here, so no face imports another.
This package imports no face. The old paths ``energy_nb.live.protocol`` and
``energy_nb.live.client`` still work: they re-export these modules.

Usage::

    from energy_nb.stream import protocol
    from energy_nb.stream.client import ForecastStream
"""
