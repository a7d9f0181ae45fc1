"""The old import path of the live socket's protocol, kept for code written against it.

The protocol moved to :mod:`energy_nb.stream.protocol` (it is not the server: the Live page and
any client share it). ``from energy_nb.live import protocol`` and
``from energy_nb.live.protocol import Topic`` keep working: every public name here is the same
object as there. New code imports :mod:`energy_nb.stream.protocol`.

Usage::

    >>> from energy_nb.live.protocol import Topic
    >>> from energy_nb.stream import protocol
    >>> Topic is protocol.Topic
    True
"""

from energy_nb.stream.protocol import *  # noqa: F401,F403
