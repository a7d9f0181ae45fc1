"""The old import path of the live socket's Python client, kept for code written against it.

The client moved to :mod:`energy_nb.stream.client` (it is not the server: the Live page and
researchers use it). ``from energy_nb.live.client import ForecastStream`` keeps working: every
public name here is the same object as there. New code imports :mod:`energy_nb.stream.client`.

Usage::

    >>> from energy_nb.live.client import ForecastStream
    >>> from energy_nb.stream import client
    >>> ForecastStream is client.ForecastStream
    True
"""

from energy_nb.stream.client import *  # noqa: F401,F403
