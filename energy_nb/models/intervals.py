"""Calibrated prediction intervals: split conformal on volatility-scaled rolling-origin residuals.

Method (used by every model through :meth:`ForecastModel.predict`):

1. Volatility scale. ``sigma_t`` is an exponentially weighted (EWMA) standard deviation of daily
   log returns up to and including day ``t`` (half-life ``halflife`` trading days, default 10),
   ``sigma_long_t`` the same with a half-life of 1000 days. Both are causal: they use no price
   after ``t``. The scale of step ``h`` lets the daily variance revert geometrically (persistence
   0.97 per day) from ``sigma_t^2`` to ``sigma_long_t^2``:
   ``s(t, h)^2 = h sigma_long^2 + (sigma^2 - sigma_long^2) (1 - 0.97^h) / (1 - 0.97)``
   (see :func:`horizon_scale`), so that a volatility spike widens the near steps more than the
   far ones.
2. Rolling-origin residuals. For every origin ``t`` in the last ``window`` trading days of the
   training data, the fitted model produces its forecast path of log-price changes for steps
   ``1..H`` *from the data up to t only* (``ForecastModel._paths``). Where the realised price at
   ``t + h`` is inside the training data, the scaled residual is
   ``z[t, h] = (log y[t+h] - log y[t] - path[t, h]) / s(t, h)``.
3. Split-conformal quantiles per step ``h``. For a level ``L`` (e.g. 80) with tail mass
   ``beta = (1 - L/100) / 2``, the lower and upper scaled offsets are the conformal order
   statistics ``z_(floor((n+1) beta))`` and ``z_(ceil((n+1)(1-beta)))`` of the ``n`` residuals of
   step ``h`` (clamped to the sample's extremes). With fewer than ``min_residuals`` residuals for a
   step, Gaussian quantiles are used instead.
4. Interval at the forecast origin ``T``: ``exp(log y_T + path[T, h] + q * s(T, h))``.
   Lower offsets are capped at 0 and upper offsets floored at 0 so that
   ``lower <= mean <= upper``; higher levels use more extreme order statistics, so the intervals
   are nested (95 contains 80).

The volatility scaling lets the intervals widen and narrow with the market regime, while the
conformal step corrects the shape (fat tails, horizon effects, model bias) empirically.

Usage::

    >>> sigma = ewma_volatility(log_prices, halflife=20)
    >>> bounds = conformal_offsets(z, levels=(80, 95))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

#: Default EWMA half-life (trading days) of the volatility scale.
DEFAULT_HALFLIFE = 10.0
#: Default number of most recent origins whose residuals calibrate the intervals.
DEFAULT_WINDOW = 1500
#: EWMA half-life (trading days) of the long-run volatility level.
LONG_HALFLIFE = 1000.0
#: Daily persistence of volatility shocks (mean reversion of the short-run level).
DEFAULT_PERSISTENCE = 0.97
#: Fewest residuals per step before falling back to Gaussian quantiles.
MIN_RESIDUALS = 30


def ewma_volatility(log_values: np.ndarray, halflife: float = DEFAULT_HALFLIFE) -> np.ndarray:
    """Causal EWMA standard deviation of daily log returns.

    Args:
        log_values: log prices, shape ``(n,)``.
        halflife: EWMA half-life in trading days (> 0).

    Returns:
        ``sigma`` of shape ``(n,)``; ``sigma[t]`` uses returns up to day ``t`` only. Day 0 takes the
        value of day 1. Values are floored at a tiny positive number.
    """
    log_values = np.asarray(log_values, dtype="float64")
    if len(log_values) < 2:
        return np.full(len(log_values), 1e-8)
    squared = pd.Series(np.diff(log_values) ** 2)
    var = squared.ewm(halflife=halflife, adjust=True).mean().to_numpy()
    sigma = np.sqrt(np.concatenate([[var[0]], var]))
    return np.maximum(sigma, 1e-8)


def horizon_scale(
    sigma: np.ndarray,
    sigma_long: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    persistence: float = DEFAULT_PERSISTENCE,
) -> np.ndarray:
    """Volatility of the cumulative log return over steps ``1..h`` from each origin.

    The daily variance is assumed to revert geometrically from the short-run EWMA level to the
    long-run one: ``var_k = sl^2 + persistence^(k-1) (s^2 - sl^2)``, so
    ``scale(t, h)^2 = h sl^2 + (s^2 - sl^2) (1 - persistence^h) / (1 - persistence)``.
    ``persistence = 1`` gives the plain ``sigma_t * sqrt(h)``.

    Args:
        sigma: short-run EWMA volatility per position, shape ``(n,)``.
        sigma_long: long-run EWMA volatility per position, shape ``(n,)``.
        origins: positions, shape ``(m,)``.
        horizon: number of steps ``H``.
        persistence: daily persistence of volatility shocks, in ``(0, 1]``.

    Returns:
        Array ``(m, H)`` of positive scales.
    """
    steps = np.arange(1, horizon + 1, dtype=float)
    short2 = sigma[origins][:, None] ** 2
    long2 = sigma_long[origins][:, None] ** 2
    if persistence >= 1.0:
        weight = steps
    else:
        weight = (1.0 - persistence**steps) / (1.0 - persistence)
    var = steps[None, :] * long2 + (short2 - long2) * weight[None, :]
    return np.sqrt(np.maximum(var, 1e-16))


def scaled_residuals(
    log_values: np.ndarray, origins: np.ndarray, paths: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Scaled forecast errors of paths issued at ``origins``.

    Args:
        log_values: log prices, shape ``(n,)``.
        origins: integer positions of the forecast origins, shape ``(m,)``.
        paths: forecast log-price changes, shape ``(m, H)``.
        scale: volatility scale per origin and step, shape ``(m, H)``
            (see :func:`horizon_scale`).

    Returns:
        ``z`` of shape ``(m, H)``; NaN where ``origin + h`` is beyond the data.
    """
    n = len(log_values)
    horizon = paths.shape[1]
    steps = np.arange(1, horizon + 1)
    target_pos = origins[:, None] + steps[None, :]
    inside = target_pos < n
    actual = np.where(inside, log_values[np.minimum(target_pos, n - 1)], np.nan)
    errors = actual - log_values[origins][:, None] - paths
    return errors / scale


def conformal_offsets(
    z: np.ndarray, levels: Sequence[int], min_residuals: int = MIN_RESIDUALS
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-step lower/upper scaled offsets from residuals (split conformal).

    Args:
        z: scaled residuals, shape ``(m, H)``, NaN allowed (ignored).
        levels: interval levels in percent, e.g. ``(80, 95)``.
        min_residuals: fewest residuals in a column before Gaussian quantiles are used.

    Returns:
        ``{level: (lower, upper)}`` with arrays of shape ``(H,)``; ``lower <= 0 <= upper`` and the
        bands of higher levels contain those of lower levels.
    """
    horizon = z.shape[1]
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    sorted_cols = [np.sort(col[np.isfinite(col)]) for col in z.T]
    for level in sorted(levels):
        beta = (100 - level) / 200.0
        gauss = NormalDist().inv_cdf(1.0 - beta)
        lower = np.empty(horizon)
        upper = np.empty(horizon)
        for h, col in enumerate(sorted_cols):
            n = len(col)
            if n < min_residuals:
                lower[h], upper[h] = -gauss, gauss
                continue
            k_lo = math.floor((n + 1) * beta + 1e-9)
            k_hi = math.ceil((n + 1) * (1.0 - beta) - 1e-9)
            lower[h] = col[max(k_lo, 1) - 1]
            upper[h] = col[min(k_hi, n) - 1]
        out[level] = (np.minimum(lower, 0.0), np.maximum(upper, 0.0))
    # enforce nesting even for Gaussian fall-back columns mixed with empirical ones
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for level in sorted(out):
        lo, hi = out[level]
        if previous is not None:
            lo, hi = np.minimum(lo, previous[0]), np.maximum(hi, previous[1])
            out[level] = (lo, hi)
        previous = (lo, hi)
    return out
