"""``gbm``: a scikit-learn regressor on engineered features, direct multi-horizon.

Features at an origin ``t`` (all computed from prices up to ``t``): the last 5 daily log returns,
mean returns over 5/20/60 days, log price minus its 20- and 250-day moving averages (all divided
by the EWMA volatility ``sigma_t``), the log ratio of 5-day to 60-day realised volatility, and
calendar terms (weekday one-hot, month as sine/cosine). The target for step ``h`` is the
volatility-scaled log return ``(log y[t+h] - log y[t]) / (sigma_t * sqrt(h))``; one output per
step ``1..max_steps`` (direct strategy) is learned from training origins whose targets are all
inside the training data. Predictions are mapped back to prices with ``exp``; steps beyond
``max_steps`` reuse the last step's scaled prediction.

The default estimator is a strongly regularised ``Ridge`` (multi-output, one solve for all steps,
milliseconds to fit). ``estimator="hgb"`` uses ``HistGradientBoostingRegressor`` with the step as
a feature (slower; for experiments).

Usage::

    >>> GradientBoosted(estimator="ridge", alpha=1000.0).fit(y).predict(30)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from energy_nb.models.base import ForecastModel, check_int, check_number
from energy_nb.models.errors import InvalidParameterError
from energy_nb.models.intervals import DEFAULT_HALFLIFE, DEFAULT_WINDOW, ewma_volatility
from energy_nb.models.transforms import PreparedSeries

#: Positions of history a feature row needs (the 250-day moving average).
FEATURE_HISTORY = 250


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Causal trailing mean (shorter window at the start)."""
    return pd.Series(values).rolling(window, min_periods=1).mean().to_numpy()


def build_features(series: PreparedSeries, sigma: np.ndarray) -> np.ndarray:
    """Feature matrix, one row per position of ``series`` (row ``t`` uses data ``<= t`` only).

    Args:
        series: the prepared price series.
        sigma: EWMA volatility per position.

    Returns:
        Array of shape ``(n, n_features)`` without NaN.
    """
    y = series.log_values
    returns = np.r_[0.0, np.diff(y)]
    scale = np.maximum(sigma, 1e-6)
    columns: list[np.ndarray] = []
    for lag in range(5):
        columns.append(np.r_[np.zeros(lag), returns[: len(returns) - lag]] / scale)
    for window in (5, 20, 60):
        columns.append(_rolling_mean(returns, window) / scale)
    for window in (20, 250):
        columns.append((y - _rolling_mean(y, window)) / scale)
    vol5 = np.sqrt(_rolling_mean(returns**2, 5)) + 1e-8
    vol60 = np.sqrt(_rolling_mean(returns**2, 60)) + 1e-8
    columns.append(np.log(vol5 / vol60))
    weekday = series.index.day_of_week.to_numpy()
    for day in range(5):
        columns.append((weekday == day).astype(float))
    month = series.index.month.to_numpy()
    columns.append(np.sin(2 * np.pi * month / 12.0))
    columns.append(np.cos(2 * np.pi * month / 12.0))
    matrix = np.column_stack(columns)
    return np.clip(np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0), -20.0, 20.0)


class GradientBoosted(ForecastModel):
    """Direct multi-horizon scikit-learn model on engineered features (see module docstring).

    Args:
        estimator: ``"ridge"`` (default, fast) or ``"hgb"`` (HistGradientBoosting).
        alpha: Ridge regularisation strength (> 0); large values shrink towards no change.
        max_steps: number of directly modelled steps (1..60).
        window: number of most recent training origins (>= 100).
        max_abs_z: clip of predicted scaled returns (keeps forecasts close to no change).
        calibration_window: origins used to calibrate the intervals.
        vol_halflife: half-life of the EWMA volatility scale (features, target and intervals).

    Fitted attributes: ``estimator_``, ``features_``, ``n_train_``.
    """

    name = "gbm"
    min_observations = 120
    _supports_refilter = True

    def __init__(
        self,
        estimator: str = "ridge",
        alpha: float = 3000.0,
        max_steps: int = 30,
        window: int = 2000,
        max_abs_z: float = 0.5,
        calibration_window: int = DEFAULT_WINDOW,
        vol_halflife: float = DEFAULT_HALFLIFE,
    ) -> None:
        self.estimator = estimator
        self.alpha = alpha
        self.max_steps = max_steps
        self.window = window
        self.max_abs_z = max_abs_z
        self.calibration_window = calibration_window
        self.vol_halflife = vol_halflife

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.estimator not in ("ridge", "hgb"):
            raise InvalidParameterError(
                f"estimator must be 'ridge' or 'hgb', got {self.estimator!r}"
            )
        check_number("alpha", self.alpha, 1e-9, 1e12)
        check_int("max_steps", self.max_steps, 1, 60)
        check_int("window", self.window, 100, 100_000)
        check_number("max_abs_z", self.max_abs_z, 0.0, 10.0)

    def _fit(self, series: PreparedSeries) -> None:
        features = build_features(series, self.sigma_)
        y = series.log_values
        n = len(y)
        steps = int(min(self.max_steps, max(1, n // 4)))
        last_origin = n - 1 - steps  # every target of the row is inside the training data
        first_origin = max(min(FEATURE_HISTORY, n // 3), last_origin - int(self.window) + 1)
        origins = np.arange(first_origin, last_origin + 1)
        step_idx = np.arange(1, steps + 1)
        targets = (y[origins[:, None] + step_idx[None, :]] - y[origins][:, None]) / (
            self.sigma_[origins][:, None] * np.sqrt(step_idx)[None, :]
        )
        x = features[origins]
        self.steps_ = steps
        self.n_train_ = len(origins)
        if self.estimator == "ridge":
            from sklearn.linear_model import Ridge
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            model = make_pipeline(StandardScaler(), Ridge(alpha=float(self.alpha)))
            model.fit(x, targets)
        else:
            from sklearn.ensemble import HistGradientBoostingRegressor

            stacked_x = np.column_stack(
                [np.repeat(x, steps, axis=0), np.tile(step_idx, len(origins))]
            )
            model = HistGradientBoostingRegressor(
                max_iter=100, learning_rate=0.05, max_leaf_nodes=15, l2_regularization=1.0,
                random_state=0,
            )
            model.fit(stacked_x, targets.reshape(-1))
        self.estimator_ = model
        self.features_ = features

    def _refilter(self, series: PreparedSeries) -> None:
        self.features_ = build_features(series, self.sigma_)

    def _predict_z(self, origins: np.ndarray) -> np.ndarray:
        x = self.features_[origins]
        if self.estimator == "ridge":
            z = self.estimator_.predict(x).reshape(len(origins), self.steps_)
        else:
            step_idx = np.arange(1, self.steps_ + 1)
            stacked = np.column_stack(
                [np.repeat(x, self.steps_, axis=0), np.tile(step_idx, len(origins))]
            )
            z = self.estimator_.predict(stacked).reshape(len(origins), self.steps_)
        return np.clip(z, -self.max_abs_z, self.max_abs_z)

    def _paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        z = self._predict_z(origins)
        if horizon > z.shape[1]:
            z = np.column_stack([z, np.repeat(z[:, -1:], horizon - z.shape[1], axis=1)])
        z = z[:, :horizon]
        steps = np.sqrt(np.arange(1, horizon + 1))
        return z * self.sigma_[origins][:, None] * steps[None, :]

    def _info(self) -> dict[str, Any]:
        return {"n_train": self.n_train_, "steps": self.steps_}


__all__ = ["GradientBoosted", "build_features", "ewma_volatility"]
