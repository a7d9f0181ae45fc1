"""Point and interval forecast accuracy metrics, as pure functions of NumPy arrays.

Every function accepts array-likes of equal length, ignores positions where the actual value (or
a needed forecast value) is NaN, and returns ``nan`` when nothing is left to score.

Definitions (``y`` actual, ``f`` forecast, ``e = y - f``):

- ``mae = mean(|e|)``, ``rmse = sqrt(mean(e**2))``;
- ``mape = 100 * mean(|e| / |y|)`` over ``y != 0``;
- ``smape = 100 * mean(2 |e| / (|y| + |f|))`` (terms with ``|y| + |f| = 0`` are skipped);
- ``mase = mean(|e| / scale)``, ``scale`` = in-sample MAE of the one-step naive forecast on the
  training data (:func:`naive_scale`), one scale per forecast origin;
- ``rmae = MAE(model) / MAE(random_walk)`` on the same origins (:func:`relative_mae`);
- ``directional_accuracy``: share of forecasts whose sign of change from the last observed price
  matches the actual change's sign; a forecast of *no change* scores 0.5 (it makes no call);
- ``coverage``: share of actuals inside ``[lower, upper]``; ``width = mean(upper - lower)``;
- ``pinball``: mean quantile loss of the two interval bounds taken as the ``alpha/2`` and
  ``1 - alpha/2`` quantiles, averaged over both (``alpha = 1 - level/100``);
- ``winkler = mean(width + (2/alpha)(lower - y)[y < lower] + (2/alpha)(y - upper)[y > upper])``.

Usage::

    >>> from energy_nb.evaluation.metrics import mae, winkler_score
    >>> mae([1.0, 2.0], [1.5, 1.0])
    0.75
    >>> winkler_score([10.0], [9.0], [12.0], level=80)
    3.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "MetricError",
    "coverage",
    "directional_accuracy",
    "mae",
    "mape",
    "mase",
    "mean_width",
    "naive_scale",
    "pinball_loss",
    "relative_mae",
    "rmse",
    "smape",
    "winkler_score",
]


class MetricError(ValueError):
    """Raised when metric inputs are malformed (unequal lengths, bad level)."""


def _arrays(*values: ArrayLike) -> list[np.ndarray]:
    arrays = [np.asarray(v, dtype=float).reshape(-1) for v in values]
    n = arrays[0].size
    for a in arrays[1:]:
        if a.size != n and a.size != 1:
            raise MetricError(f"metric inputs differ in length: {[x.size for x in arrays]}")
    return [np.broadcast_to(a, (n,)) if a.size == 1 and n != 1 else a for a in arrays]


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def _alpha(level: float) -> float:
    if not 0 < level < 100:
        raise MetricError(f"interval level must be in (0, 100), got {level!r}")
    return 1.0 - level / 100.0


def mae(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Mean absolute error.

    Args:
        actual: observed values.
        forecast: point forecasts.

    Returns:
        ``mean(|actual - forecast|)``.
    """
    y, f = _arrays(actual, forecast)
    return _mean(np.abs(y - f))


def rmse(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Root mean squared error.

    Args:
        actual: observed values.
        forecast: point forecasts.

    Returns:
        ``sqrt(mean((actual - forecast)**2))``.
    """
    y, f = _arrays(actual, forecast)
    return float(np.sqrt(_mean((y - f) ** 2)))


def mape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Mean absolute percentage error in percent, skipping zero actuals.

    Args:
        actual: observed values.
        forecast: point forecasts.

    Returns:
        ``100 * mean(|actual - forecast| / |actual|)``.
    """
    y, f = _arrays(actual, forecast)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y != 0, np.abs(y - f) / np.abs(y), np.nan)
    return 100.0 * _mean(terms)


def smape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Symmetric mean absolute percentage error in percent (0..200).

    Args:
        actual: observed values.
        forecast: point forecasts.

    Returns:
        ``100 * mean(2 |actual - forecast| / (|actual| + |forecast|))``.
    """
    y, f = _arrays(actual, forecast)
    denom = np.abs(y) + np.abs(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(denom > 0, 2.0 * np.abs(y - f) / denom, np.nan)
    return 100.0 * _mean(terms)


def naive_scale(train: ArrayLike) -> float:
    """In-sample MAE of the one-step naive (no-change) forecast: the MASE denominator.

    Args:
        train: training values, oldest first (NaNs are dropped first).

    Returns:
        ``mean(|train[t] - train[t-1]|)``, or ``nan`` with fewer than two values.
    """
    values = np.asarray(train, dtype=float).reshape(-1)
    values = values[~np.isnan(values)]
    if values.size < 2:
        return float("nan")
    return float(np.mean(np.abs(np.diff(values))))


def mase(actual: ArrayLike, forecast: ArrayLike, scale: ArrayLike | float) -> float:
    """Mean absolute scaled error.

    Args:
        actual: observed values.
        forecast: point forecasts.
        scale: the naive in-sample MAE (:func:`naive_scale`), one number or one per forecast
            (e.g. one per origin in a walk-forward evaluation).

    Returns:
        ``mean(|actual - forecast| / scale)``; terms with a zero or NaN scale are skipped.
    """
    y, f, s = _arrays(actual, forecast, scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(s > 0, np.abs(y - f) / s, np.nan)
    return _mean(terms)


def relative_mae(actual: ArrayLike, forecast: ArrayLike, baseline: ArrayLike) -> float:
    """MAE of ``forecast`` divided by the MAE of ``baseline`` on the same points.

    Only positions where the actual and both forecasts are present are scored, so both MAEs are
    measured on exactly the same origins.

    Args:
        actual: observed values.
        forecast: the model's point forecasts.
        baseline: the random-walk point forecasts.

    Returns:
        ``MAE(forecast) / MAE(baseline)``; ``nan`` if the baseline MAE is zero or undefined.
    """
    y, f, b = _arrays(actual, forecast, baseline)
    ok = ~(np.isnan(y) | np.isnan(f) | np.isnan(b))
    if not ok.any():
        return float("nan")
    base = float(np.mean(np.abs(y[ok] - b[ok])))
    if base == 0:
        return float("nan")
    return float(np.mean(np.abs(y[ok] - f[ok]))) / base


#: Relative size below which a forecast change counts as "no change" (floating-point noise).
_NO_CHANGE_RTOL = 1e-9


def directional_accuracy(actual: ArrayLike, forecast: ArrayLike, last: ArrayLike) -> float:
    """Share of forecasts that call the direction of change from the last observed price right.

    A forecast of exactly no change makes no call and scores 0.5 (so the random walk scores 0.5);
    otherwise a forecast scores 1 when its sign of change equals the actual's, else 0.

    Args:
        actual: observed values.
        forecast: point forecasts.
        last: the last observed value at each forecast's origin.

    Returns:
        A fraction in [0, 1].
    """
    y, f, p = _arrays(actual, forecast, last)
    ok = ~(np.isnan(y) | np.isnan(f) | np.isnan(p))
    if not ok.any():
        return float("nan")
    tol = _NO_CHANGE_RTOL * np.abs(p[ok])  # a log/exp round trip is still "no change"
    pred_change = f[ok] - p[ok]
    pred = np.where(np.abs(pred_change) <= tol, 0.0, np.sign(pred_change))
    real = np.sign(y[ok] - p[ok])
    score = np.where(pred == 0, 0.5, (pred == real).astype(float))
    return float(score.mean())


def coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Empirical coverage: share of actuals inside the closed interval ``[lower, upper]``.

    Args:
        actual: observed values.
        lower: lower bounds.
        upper: upper bounds.

    Returns:
        A fraction in [0, 1].
    """
    y, lo, hi = _arrays(actual, lower, upper)
    ok = ~(np.isnan(y) | np.isnan(lo) | np.isnan(hi))
    if not ok.any():
        return float("nan")
    return float(np.mean((y[ok] >= lo[ok]) & (y[ok] <= hi[ok])))


def mean_width(lower: ArrayLike, upper: ArrayLike, actual: ArrayLike | None = None) -> float:
    """Mean interval width ``upper - lower``.

    Args:
        lower: lower bounds.
        upper: upper bounds.
        actual: if given, only positions with an actual value count (same points as coverage).

    Returns:
        The mean width.
    """
    lo, hi = _arrays(lower, upper)
    width = hi - lo
    if actual is not None:
        (y,) = _arrays(actual)
        width = np.where(np.isnan(y), np.nan, width)
    return _mean(width)


def pinball_loss(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike, level: float) -> float:
    """Mean pinball (quantile) loss of a central interval's two bounds.

    The bounds of a ``level``% interval are the ``alpha/2`` and ``1 - alpha/2`` quantiles; the
    result averages both quantile losses over all points.

    Args:
        actual: observed values.
        lower: lower bounds.
        upper: upper bounds.
        level: the interval level in percent, e.g. 80.

    Returns:
        The mean pinball loss (same unit as the prices).
    """
    alpha = _alpha(level)
    y, lo, hi = _arrays(actual, lower, upper)

    def loss(q: np.ndarray, tau: float) -> np.ndarray:
        d = y - q
        return np.maximum(tau * d, (tau - 1.0) * d)

    return _mean((loss(lo, alpha / 2) + loss(hi, 1 - alpha / 2)) / 2.0)


def winkler_score(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike, level: float) -> float:
    """Mean Winkler (interval) score: width plus ``2/alpha`` times any miss distance.

    Args:
        actual: observed values.
        lower: lower bounds.
        upper: upper bounds.
        level: the interval level in percent, e.g. 95.

    Returns:
        The mean score (lower is better).
    """
    alpha = _alpha(level)
    y, lo, hi = _arrays(actual, lower, upper)
    below = np.where(y < lo, lo - y, 0.0)
    above = np.where(y > hi, y - hi, 0.0)
    score = (hi - lo) + (2.0 / alpha) * (below + above)
    score = np.where(np.isnan(y), np.nan, score)
    return _mean(score)


#: Metric names reported per step by walk-forward evaluation, interval ones per level.
POINT_METRICS: Sequence[str] = (
    "mae", "rmse", "mape", "smape", "mase", "rmae", "directional_accuracy",
)
INTERVAL_METRICS: Sequence[str] = ("coverage", "width", "pinball", "winkler")
