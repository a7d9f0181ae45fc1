"""The forecasting model zoo behind one interface (see :mod:`energy_nb.models.base`).

Usage::

    >>> from energy_nb.models import make_model, MODEL_NAMES, Forecast
    >>> model = make_model("ARIMA", max_p=2)       # names are case-insensitive
    >>> fc = model.fit(y).predict(horizon=7, levels=(80, 95))
"""

from __future__ import annotations

import importlib
from typing import Any

from energy_nb.models.base import (
    DEFAULT_LEVELS,
    MAX_HORIZON,
    Forecast,
    ForecastModel,
    forecast_dates,
    validate_horizon,
    validate_levels,
)
from energy_nb.models.errors import (
    InsufficientDataError,
    InvalidParameterError,
    ModelError,
    ModelInputError,
    NotFittedError,
)

#: name -> "module:Class" (imported on first use, so that importing the package stays cheap).
_REGISTRY: dict[str, str] = {
    "random_walk": "energy_nb.models.baselines:RandomWalk",
    "drift": "energy_nb.models.baselines:Drift",
    "arima": "energy_nb.models.statistical:Arima",
    "ets": "energy_nb.models.statistical:Ets",
    "theta": "energy_nb.models.statistical:Theta",
    "gbm": "energy_nb.models.learned:GradientBoosted",
    "ensemble": "energy_nb.models.combine:Ensemble",
    "auto": "energy_nb.models.combine:Auto",
}

#: Every model name ``make_model`` accepts, in display order.
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def model_key(name: str) -> str:
    """The registry key a model name stands for: case-insensitive, ``-`` or ``_``.

    Args:
        name: e.g. ``"Random-Walk"``.

    Returns:
        e.g. ``"random_walk"`` (not checked against :data:`MODEL_NAMES`).

    Usage::

        model_key(" ARIMA ")   # "arima"
    """
    return name.strip().lower().replace("-", "_")


def model_class(name: str) -> type[ForecastModel]:
    """The class registered under ``name`` (case-insensitive).

    Raises:
        InvalidParameterError: unknown name (the message lists the known names).
    """
    if not isinstance(name, str):
        raise InvalidParameterError(f"model name must be a string, got {type(name).__name__}")
    key = model_key(name)
    if key not in _REGISTRY:
        raise InvalidParameterError(
            f"unknown model {name!r}; known models: {', '.join(MODEL_NAMES)}"
        )
    module_name, class_name = _REGISTRY[key].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_model(name: str, **params: Any) -> ForecastModel:
    """Create a model by name with constructor parameters.

    Args:
        name: one of :data:`MODEL_NAMES`, case-insensitive.
        **params: constructor parameters of that model.

    Returns:
        An unfitted :class:`ForecastModel`.

    Raises:
        InvalidParameterError: unknown name or unknown parameter (listing the valid ones).
    """
    cls = model_class(name)
    valid = cls._param_names()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise InvalidParameterError(
            f"unknown parameter(s) {', '.join(unknown)} for model {cls.name!r}; "
            f"valid: {', '.join(valid) or '(none)'}"
        )
    model = cls(**params)
    model._validate_params()
    return model


__all__ = [
    "DEFAULT_LEVELS",
    "MAX_HORIZON",
    "MODEL_NAMES",
    "model_key",
    "Forecast",
    "ForecastModel",
    "InsufficientDataError",
    "InvalidParameterError",
    "ModelError",
    "ModelInputError",
    "NotFittedError",
    "forecast_dates",
    "make_model",
    "model_class",
    "validate_horizon",
    "validate_levels",
]
