"""The forecast function the live server calls: ``(commodity, horizon) -> dict``.

The server core only knows the callable; this module builds the default one from a price-series
provider (the store, or a replay cursor) and a model from :func:`energy_nb.models.make_model`.

Usage::

    forecaster = ModelForecaster(lambda code: store.load(code), model="random_walk")
    forecaster("WTI", 7)
    # {"model": "random_walk", "as_of": "2025-06-02", "levels": [80, 95],
    #  "points": [{"date": "2025-06-03", "mean": 61.2, "lower_80": ..., ...}, ...]}
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd

#: ``(commodity, horizon) -> {"model", "as_of", "levels", "points"}``.
ForecastFn = Callable[[str, int], dict[str, Any]]
#: ``commodity -> price series`` (DatetimeIndex, float), ending at the latest known price.
SeriesProvider = Callable[[str], pd.Series]


def _num(value: Any) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def forecast_payload(frame: pd.DataFrame, model: str, as_of: pd.Timestamp,
                     levels: tuple[int, ...]) -> dict[str, Any]:
    """Convert a ``Forecast.to_frame()`` table to the JSON payload of a ``forecast_update``.

    Args:
        frame: columns ``date``, ``mean``, ``lower_<L>``, ``upper_<L>``.
        model: the model name actually used.
        as_of: the last data date (forecast origin).
        levels: interval levels present in ``frame``.

    Returns:
        ``{"model", "as_of", "levels", "points"}`` with ISO dates and plain floats.
    """
    points = []
    for row in frame.to_dict("records"):
        point: dict[str, Any] = {"date": pd.Timestamp(row["date"]).strftime("%Y-%m-%d"),
                                 "mean": _num(row["mean"])}
        for level in levels:
            point[f"lower_{level}"] = _num(row[f"lower_{level}"])
            point[f"upper_{level}"] = _num(row[f"upper_{level}"])
        points.append(point)
    return {"model": model, "as_of": pd.Timestamp(as_of).strftime("%Y-%m-%d"),
            "levels": list(levels), "points": points}


class ModelForecaster:
    """Compute forecasts with a named model, once per commodity and data version.

    A fit forecasts the largest horizon (``max_horizon``) once; every topic of that commodity is
    a prefix of that path (the models' step-``k`` forecast does not depend on the horizon asked),
    so a new price costs one fit per commodity, not one per subscribed horizon.

    Args:
        series: returns the price series of a commodity up to the latest known price.
        model: a name from ``energy_nb.models.MODEL_NAMES``.
        levels: interval levels.
        params: model parameters.
        history_days: fit on at most this many trailing observations (keeps refits fast).
        max_horizon: the horizon fitted once per commodity.
    """

    def __init__(self, series: SeriesProvider, model: str = "arima",
                 levels: tuple[int, ...] = (80, 95), params: dict[str, Any] | None = None,
                 history_days: int | None = 1500, max_horizon: int = 30) -> None:
        self.series = series
        self.model = model
        self.levels = tuple(levels)
        self.params = dict(params or {})
        self.history_days = history_days
        self.max_horizon = max_horizon
        self.fits = 0
        self._cache: dict[str, tuple[tuple[Any, int, float], dict[str, Any]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, commodity: str, horizon: int) -> dict[str, Any]:
        """Forecast ``horizon`` business days after the latest price of ``commodity``."""
        if not 1 <= horizon <= self.max_horizon:
            raise ValueError(f"horizon must be in 1..{self.max_horizon}, got {horizon}")
        y = self.series(commodity)
        if self.history_days:
            y = y.iloc[-self.history_days:]
        if y.empty:
            raise ValueError(f"no prices stored for {commodity}")
        last = y.iloc[-1]
        stamp = (y.index[-1], len(y), float(last))
        with self._guard:
            lock = self._locks.setdefault(commodity, threading.Lock())
        with lock:  # one fit per commodity at a time; the others reuse it
            cached = self._cache.get(commodity)
            if cached is None or not _same_stamp(cached[0], stamp):
                cached = (stamp, self._fit(y))
                self._cache[commodity] = cached
        full = cached[1]
        return {**full, "points": full["points"][:horizon]}

    def _fit(self, y: pd.Series) -> dict[str, Any]:
        from energy_nb.models import make_model

        fc = make_model(self.model, **self.params).fit(y).predict(horizon=self.max_horizon,
                                                                  levels=self.levels)
        self.fits += 1
        info = getattr(fc, "info", None) or {}
        model = fc.model
        chosen = info.get("chosen") or info.get("choice") if isinstance(info, dict) else None
        if isinstance(chosen, str) and chosen != model:
            model = f"{model}:{chosen}"
        return forecast_payload(fc.to_frame(), model, fc.origin, self.levels)


def _same_stamp(a: tuple[Any, int, float], b: tuple[Any, int, float]) -> bool:
    same_last = a[2] == b[2] or (math.isnan(a[2]) and math.isnan(b[2]))
    return a[0] == b[0] and a[1] == b[1] and same_last


def store_series_provider(store: Any) -> SeriesProvider:
    """A provider reading the full stored history from a ``PriceStore``."""
    return lambda commodity: store.load(commodity)
