"""Baseline models: ``random_walk`` (no change) and ``drift`` (random walk with drift).

Every other model is judged against ``random_walk`` (rMAE = MAE / MAE of the random walk).

Usage::

    >>> RandomWalk().fit(y).predict(horizon=5).mean      # the last price, 5 times
    >>> Drift(window=None).fit(y).predict(horizon=5)
"""

from __future__ import annotations

import numpy as np

from energy_nb.models.base import ForecastModel, check_int, check_number
from energy_nb.models.intervals import DEFAULT_HALFLIFE, DEFAULT_WINDOW
from energy_nb.models.transforms import PreparedSeries


class RandomWalk(ForecastModel):
    """No-change forecast: every step equals the last (valid) price.

    Args:
        calibration_window: origins used to calibrate the intervals.
        vol_halflife: half-life (trading days) of the EWMA volatility scale of the intervals.

    Usage::

        >>> RandomWalk().fit(y).predict(7)
    """

    name = "random_walk"

    def __init__(
        self, calibration_window: int = DEFAULT_WINDOW, vol_halflife: float = DEFAULT_HALFLIFE
    ) -> None:
        self.calibration_window = calibration_window
        self.vol_halflife = vol_halflife

    def _fit(self, series: PreparedSeries) -> None:
        self.last_price_ = float(series.prices[-1])

    def _paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        return np.zeros((len(origins), horizon))


class Drift(ForecastModel):
    """Random walk with drift in log prices: the average daily log return continues.

    The drift at an origin is ``(log y[t] - log y[t - w]) / w`` over the last ``window`` days
    (``None``: the whole history, the classic drift method), optionally shrunk towards zero.

    Args:
        window: trading days used to estimate the drift, or ``None`` for all data.
        shrink: factor in ``[0, 1]`` multiplying the estimated drift (1 = no shrinkage).
        calibration_window: origins used to calibrate the intervals.
        vol_halflife: half-life of the EWMA volatility scale of the intervals.

    Usage::

        >>> Drift(window=500).fit(y).predict(30)
    """

    name = "drift"

    def __init__(
        self,
        window: int | None = None,
        shrink: float = 1.0,
        calibration_window: int = DEFAULT_WINDOW,
        vol_halflife: float = DEFAULT_HALFLIFE,
    ) -> None:
        self.window = window
        self.shrink = shrink
        self.calibration_window = calibration_window
        self.vol_halflife = vol_halflife

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.window is not None:
            check_int("window", self.window, 2, 100_000)
        check_number("shrink", self.shrink, 0.0, 1.0)

    def _drift_at(self, origins: np.ndarray) -> np.ndarray:
        log_values = self.series_.log_values
        if self.window is None:
            start = np.zeros_like(origins)
        else:
            start = np.maximum(origins - int(self.window), 0)
        span = np.maximum(origins - start, 1)
        return self.shrink * (log_values[origins] - log_values[start]) / span

    def _fit(self, series: PreparedSeries) -> None:
        self.drift_ = float(self._drift_at(np.array([len(series) - 1]))[0])

    def _paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        steps = np.arange(1, horizon + 1)
        return self._drift_at(origins)[:, None] * steps[None, :]

    def _info(self) -> dict[str, float]:
        return {"drift_per_day": self.drift_}
