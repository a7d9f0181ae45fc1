"""The forecast function the live server calls: ``(commodity, horizon) -> dict``.

The server core only knows the callable; this module builds the default one from a price-series
provider (the store, or a replay cursor) on the application's one forecast service,
:class:`~energy_nb.service.forecasting.ForecastService`, whose cache of fitted models it uses (the
provider is seen through :class:`SeriesView`, a store's reading side). When the live server reads
the same store as the HTTP API beside it, both take one service (``service=``): one cache, and a
fit made for the socket serves an API request for the same training window.

Usage::

    forecaster = ModelForecaster(lambda code: store.load(code), model="random_walk")
    forecaster("WTI", 7)
    # {"model": "random_walk", "as_of": "2025-06-02", "levels": [80, 95],
    #  "points": [{"date": "2025-06-03", "mean": 61.2, "lower_80": ..., ...}, ...]}
    shared = ModelForecaster(None, model="arima", service=ForecastService(store))  # + HTTP API
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


class SeriesView:
    """The reading side of a price store over a series provider, for
    :class:`~energy_nb.service.forecasting.ForecastService`: ``load`` and ``data_version``.

    The data version is the series' stamp (last date, length, last price), so a new price (or a
    corrected one) is a new version and the service refits; the provider is called once per
    ``data_version`` and ``load`` returns that series, trimmed to ``history_days``.

    Args:
        series: returns the price series of a commodity up to the latest known price.
        history_days: keep at most this many trailing observations (None: all).
    """

    def __init__(self, series: SeriesProvider, history_days: int | None = None) -> None:
        self.series = series
        self.history_days = history_days
        self._last: dict[str, pd.Series] = {}

    def data_version(self, commodity: str) -> str:
        """The provider's own data version when it has one (:class:`StoreSeries`), else read the
        series and return its stamp."""
        own = getattr(self.series, "data_version", None)
        if callable(own):
            self._last.pop(commodity, None)  # load() reads afresh
            return str(own(commodity))
        y = self.series(commodity)
        self._last[commodity] = y
        if y.empty:
            return "empty"
        last = float(y.iloc[-1])
        return f"{pd.Timestamp(y.index[-1]).isoformat()}|{len(y)}|{last!r}"

    def load(self, commodity: str) -> pd.Series:
        """The series read by the last :meth:`data_version` (trimmed to ``history_days``)."""
        y = self._last.get(commodity)
        if y is None:
            y = self.series(commodity)
        return y.iloc[-self.history_days:] if self.history_days else y


class _NoRecords:
    """A registry that keeps nothing: live fits are not recorded in the model registry."""

    def record(self, *args: Any, **kwargs: Any) -> None:
        return None


class ModelForecaster:
    """Compute forecasts with a named model through the forecast service and its cache.

    Fitting is the :class:`~energy_nb.service.forecasting.ForecastService`'s: one fitted model per
    (commodity, model, origin, training window ``history_days``, data version), one fit at a time
    per key. A fit forecasts the largest horizon (``max_horizon``) once; every topic of that
    commodity is a prefix of that path (the models' step-``k`` forecast does not depend on the
    horizon asked), so a new price costs one fit and one prediction per commodity, not one per
    subscribed horizon.

    Args:
        series: returns the price series of a commodity up to the latest known price.
        model: a name from ``energy_nb.models.MODEL_NAMES``.
        levels: interval levels.
        params: model parameters.
        history_days: fit on at most this many trailing observations (keeps refits fast; the
            service's ``max_history``, part of its cache key).
        max_horizon: the horizon predicted once per fitted model.
        service: the application's :class:`~energy_nb.service.forecasting.ForecastService` to
            fit through, shared with the HTTP API (``series`` is then ``None``: the prices are
            the service's store, and the model parameters its ``model_params``). Default: a
            private service over ``series`` whose fits are not recorded.

    Raises:
        ValueError: ``series`` and ``service`` both or neither given, or ``params`` with
            ``service``.
    """

    def __init__(self, series: SeriesProvider | None, model: str = "arima",
                 levels: tuple[int, ...] = (80, 95), params: dict[str, Any] | None = None,
                 history_days: int | None = 1500, max_horizon: int = 30,
                 service: Any = None) -> None:
        from energy_nb.service import requests as rules
        from energy_nb.service.forecasting import ForecastService, check_max_history

        self._paths: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._guard = threading.Lock()
        self.model = rules.model_name(model)
        self.levels = rules.check_levels(levels)
        self.max_horizon = rules.check_horizon(max_horizon, "max_horizon")
        self.history_days = check_max_history(history_days)
        if (series is None) == (service is None):
            raise ValueError("give the forecaster a series provider or a shared service, "
                             "not both or neither")
        if service is not None:
            if params:
                raise ValueError("a shared service fits with its own model_params; "
                                 "do not pass params")
            self.params = dict(service.model_params.get(self.model, {}))
            self.service = service
            return
        self.params = dict(params or {})
        self.view = SeriesView(series)
        self.service = ForecastService(self.view, cache_size=8,  # type: ignore[arg-type]
                                       model_params={self.model: self.params},
                                       registry=_NoRecords())  # type: ignore[arg-type]

    @property
    def fits(self) -> int:
        """Models fitted so far by the service (a shared one counts the HTTP API's fits too)."""
        return self.service.cache_stats().fits

    def __call__(self, commodity: str, horizon: int) -> dict[str, Any]:
        """Forecast ``horizon`` business days after the latest price of ``commodity``."""
        from energy_nb.service.requests import check_horizon

        if check_horizon(horizon) > self.max_horizon:  # the rule every face shares, then ours
            raise ValueError(f"horizon must be in 1..{self.max_horizon}, got {horizon}")
        fitted, _ = self.service.fitted_model(commodity, self.model,
                                              max_history=self.history_days)
        with self._guard:
            known = self._paths.get(commodity)
        if known is None or known[0] is not fitted:  # a new fit: predict its path once
            known = (fitted, self._path(fitted))
            with self._guard:
                self._paths[commodity] = known
        full = known[1]
        return {**full, "points": full["points"][:horizon]}

    def _path(self, fitted: Any) -> dict[str, Any]:
        fc = fitted.predict(horizon=self.max_horizon, levels=self.levels)
        info = getattr(fc, "info", None) or {}
        model = fc.model
        chosen = info.get("chosen") or info.get("choice") if isinstance(info, dict) else None
        if isinstance(chosen, str) and chosen != model:
            model = f"{model}:{chosen}"
        return forecast_payload(fc.to_frame(), model, fc.origin, self.levels)


class StoreSeries:
    """A provider reading the full stored history from a ``PriceStore``; it also answers the
    store's own ``data_version``, so :class:`SeriesView` reloads only when the prices changed.

    Args:
        store: the ``PriceStore``.
    """

    def __init__(self, store: Any) -> None:
        self.store = store

    def __call__(self, commodity: str) -> pd.Series:
        return self.store.load(commodity)

    def data_version(self, commodity: str) -> str:
        """The store's data version of ``commodity`` (a cheap query, no load)."""
        return f"store:{self.store.data_version(commodity)}"


def store_series_provider(store: Any) -> SeriesProvider:
    """A provider reading the full stored history from a ``PriceStore`` (:class:`StoreSeries`)."""
    return StoreSeries(store)
