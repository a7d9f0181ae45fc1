"""Exception classes of the models package.

Usage::

    >>> try:
    ...     make_model("nope")
    ... except InvalidParameterError as exc:
    ...     print(exc)
"""

from __future__ import annotations


class ModelError(Exception):
    """Base class of the errors raised by :mod:`energy_nb.models`."""


class NotFittedError(ModelError, RuntimeError):
    """Raised when ``predict`` or ``update`` is called before ``fit``."""


class InvalidParameterError(ModelError, ValueError):
    """Raised for a bad model name, constructor parameter, horizon or level."""


class ModelInputError(ModelError, ValueError):
    """Raised when a price series given to a model is malformed (type, index, values)."""


class InsufficientDataError(ModelInputError):
    """Raised when a price series has too few valid prices to fit a model."""
