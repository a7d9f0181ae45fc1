"""Calibrated prediction intervals: weighted split conformal on volatility-scaled residuals.

Method (used by every model through :meth:`ForecastModel.predict`):

1. Volatility scale. ``sigma_t`` is an exponentially weighted (EWMA) standard deviation of daily
   log returns up to and including day ``t`` (half-life ``halflife`` trading days, default 10).
   ``sigma_long_t`` the same with a half-life of 1000 days. Both are causal: they use no price
   after ``t``. ``mu_t`` is the EWMA mean of the daily log returns up to ``t`` (half-life
   ``TREND_HALFLIFE`` = 20 trading days): the recent drift. The scale of step ``h`` is the
   square-root-of-time scale plus a drift-uncertainty term,
   ``s(t, h) = sqrt(min(sigma_t, 3 sigma_long_t)^2 h + (h mu_t)^2)`` (:func:`horizon_scale`
   with persistence 1, ``cap`` 3 and ``trend_weight`` 1). The cap keeps bands usable after
   extreme spikes such as April 2020; the drift term widens the bands while the market trends
   (the 2008, 2014-15 and 2018 sell-offs), when a path that keeps moving the same way is more
   likely than the volatility alone says. The mean-reverting form with persistence < 1 is kept
   for studies but not used.
2. Rolling-origin residuals. For every origin ``t`` in the last ``window`` (1500) trading days of
   the training data, the fitted model produces its forecast path of log-price changes for steps
   ``1..H`` *from the data up to t only* (``ForecastModel._paths``). Where the realised price at
   ``t + h`` is inside the training data, the scaled residual is
   ``z[t, h] = (log y[t+h] - log y[t] - path[t, h]) / s(t, h)``.
3. Recency-weighted split-conformal quantiles per step ``h`` (non-exchangeable conformal
   prediction, Barber et al. 2023). The residual of origin ``t`` gets the weight
   ``w_t = 0.5^((T - t) / 500)`` (``T`` the forecast origin, half-life
   ``CALIBRATION_WEIGHT_HALFLIFE`` = 500 origins) and the new point the weight 1; with
   ``W = 1 + sum w_t`` and a level ``L`` (e.g. 80) of tail mass ``beta = (1 - L/100) / 2``, the
   upper offset is the smallest residual ``z_(k)`` (sorted ascending) whose cumulative weight
   ``sum_{j<=k} w_(j) / W >= 1 - beta``, the lower offset the largest ``z_(k)`` with
   ``sum_{j>=k} w_(j) / W >= 1 - beta`` (both clamped to the sample's extremes). With equal
   weights these are the order statistics ``z_(floor((n+1) beta))`` and
   ``z_(ceil((n+1)(1-beta)))``. With fewer than ``min_residuals`` (30) residuals for a step,
   Gaussian quantiles are used instead.
4. Interval at the forecast origin ``T``: ``exp(log y_T + path[T, h] + q * s(T, h))``.
   Lower offsets are capped at 0 and upper offsets floored at 0 so that
   ``lower <= mean <= upper``; higher levels use more extreme order statistics, so the intervals
   are nested (95 contains 80).

The volatility scaling lets the intervals widen and narrow with the market regime, the conformal
step corrects the shape (fat tails, horizon effects, model bias) empirically, and the recency
weights let it follow slow changes in that shape. Chosen in-sample (origins 2009-2024, see
``benchmarks/study_intervals.py`` and ``docs/models.md``). :func:`adaptive_tail_masses`
(adaptive conformal inference) was studied as an alternative and is not used by default.

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
#: EWMA half-life (trading days) of the long-run volatility level (only used when persistence < 1).
LONG_HALFLIFE = 1000.0
#: Daily persistence of volatility shocks; 1 = no mean reversion, ``s(t, h) = sigma_t sqrt(h)``.
DEFAULT_PERSISTENCE = 1.0
#: Cap of the short-run volatility as a multiple of the long-run one in the interval scale.
VOL_CAP = 3.0
#: Half-life (in origins) of the recency weights of the calibration residuals.
CALIBRATION_WEIGHT_HALFLIFE = 500.0
#: EWMA half-life (trading days) of the recent drift ``mu_t`` in the drift-uncertainty term.
TREND_HALFLIFE = 20.0
#: Weight of the squared recent drift ``(h mu_t)^2`` in the step-``h`` variance.
TREND_WEIGHT = 1.0
#: Cap of the recent drift's size as a multiple of the long-run daily volatility.
TREND_CAP = 0.5
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


def ewma_drift(log_values: np.ndarray, halflife: float = TREND_HALFLIFE) -> np.ndarray:
    """Causal EWMA mean of daily log returns (the recent drift).

    Args:
        log_values: log prices, shape ``(n,)``.
        halflife: EWMA half-life in trading days (> 0).

    Returns:
        ``mu`` of shape ``(n,)``; ``mu[t]`` uses returns up to day ``t`` only (day 0 counts as a
        zero return).

    Usage::

        >>> mu = ewma_drift(np.log(prices), halflife=20)
    """
    log_values = np.asarray(log_values, dtype="float64")
    if len(log_values) == 0:
        return np.zeros(0)
    moves = pd.Series(np.concatenate([[0.0], np.diff(log_values)]))
    return moves.ewm(halflife=halflife, adjust=True).mean().to_numpy()


def horizon_scale(
    sigma: np.ndarray,
    sigma_long: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    persistence: float = DEFAULT_PERSISTENCE,
    cap: float | None = VOL_CAP,
    drift: np.ndarray | None = None,
    trend_weight: float = TREND_WEIGHT,
    trend_cap: float | None = TREND_CAP,
) -> np.ndarray:
    """Volatility of the cumulative log return over steps ``1..h`` from each origin.

    The daily variance is assumed to revert geometrically from the short-run EWMA level to the
    long-run one: ``var_k = sl^2 + persistence^(k-1) (s^2 - sl^2)``, so
    ``scale(t, h)^2 = h sl^2 + (s^2 - sl^2) (1 - persistence^h) / (1 - persistence)``.
    ``persistence = 1`` gives the plain ``sigma_t * sqrt(h)``. With ``drift`` given,
    ``trend_weight * (h mu_t)^2`` is added to that variance (drift uncertainty).

    Args:
        sigma: short-run EWMA volatility per position, shape ``(n,)``.
        sigma_long: long-run EWMA volatility per position, shape ``(n,)``.
        origins: positions, shape ``(m,)``.
        horizon: number of steps ``H``.
        persistence: daily persistence of volatility shocks, in ``(0, 1]``.
        cap: the short-run level is first limited to ``cap * sigma_long`` (``None``: no cap).
        drift: recent drift ``mu`` per position (:func:`ewma_drift`), shape ``(n,)``; ``None``
            leaves the drift term out.
        trend_weight: weight of the drift term (>= 0).
        trend_cap: ``|mu_t|`` is first limited to ``trend_cap * sigma_long`` (``None``: no cap).

    Returns:
        Array ``(m, H)`` of positive scales.
    """
    steps = np.arange(1, horizon + 1, dtype=float)
    short = sigma[origins]
    if cap is not None:
        short = np.minimum(short, cap * sigma_long[origins])
    short2 = short[:, None] ** 2
    long2 = sigma_long[origins][:, None] ** 2
    if persistence >= 1.0:
        weight = steps
    else:
        weight = (1.0 - persistence**steps) / (1.0 - persistence)
    var = steps[None, :] * long2 + (short2 - long2) * weight[None, :]
    if drift is not None and trend_weight > 0:
        mu = np.abs(drift[origins])
        if trend_cap is not None:
            mu = np.minimum(mu, trend_cap * sigma_long[origins])
        var = var + trend_weight * (mu[:, None] * steps[None, :]) ** 2
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


def adaptive_tail_masses(
    z: np.ndarray, levels: Sequence[int], gamma: float, min_residuals: int = MIN_RESIDUALS
) -> dict[int, np.ndarray]:
    """Per-step tail masses adapted to recent miscoverage (adaptive conformal inference).

    The Gibbs & Candes (2021) recursion ``alpha <- alpha + gamma (alpha_nominal - err)`` is run
    over the calibration residuals of each step in time order (rows of ``z``), where ``err`` is 1
    when the residual falls outside the conformal band of the current ``alpha`` computed from all
    residuals of that step. Only residuals whose target is known (finite ``z``) take part, so
    the result uses no data after the origin.

    Args:
        z: scaled residuals, shape ``(m, H)``, rows in origin order, NaN allowed (ignored).
        levels: interval levels in percent.
        gamma: gain of the recursion (> 0).
        min_residuals: columns with fewer residuals keep the nominal tail mass.

    Returns:
        ``{level: tail mass per step, shape (H,)}``, each in ``[0, 0.5]``.
    """
    horizon = z.shape[1]
    levels = sorted(levels)
    nominal = np.array([(100 - level) / 100.0 for level in levels])[:, None]
    finite = np.isfinite(z)
    counts = finite.sum(axis=0)
    sorted_z = np.sort(np.where(finite, z, np.inf), axis=0)
    r_right = np.zeros(z.shape, dtype=np.int64)
    r_left = np.zeros(z.shape, dtype=np.int64)
    for h in range(horizon):
        col = sorted_z[: counts[h], h]
        vals = np.where(finite[:, h], z[:, h], 0.0)
        r_right[:, h] = np.searchsorted(col, vals, side="right")
        r_left[:, h] = np.searchsorted(col, vals, side="left")
    n1 = (counts + 1).astype(float)[None, :]
    alpha = np.repeat(nominal, horizon, axis=1)
    active = (counts >= min_residuals)[None, :]
    for i in np.flatnonzero(finite.any(axis=1)):
        beta = alpha / 2.0
        k_lo = np.clip(np.floor(n1 * beta + 1e-9), 1, counts)
        k_hi = np.clip(np.ceil(n1 * (1.0 - beta) - 1e-9), 1, counts)
        err = (r_right[i] < k_lo) | (r_left[i] >= k_hi)
        step = gamma * (nominal - err)
        alpha = np.clip(alpha + np.where(finite[i] & active, step, 0.0), 0.0, 1.0)
    return {level: alpha[j] / 2.0 for j, level in enumerate(levels)}


def conformal_offsets(
    z: np.ndarray,
    levels: Sequence[int],
    min_residuals: int = MIN_RESIDUALS,
    weight_halflife: float | None = None,
    aci_gamma: float = 0.0,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-step lower/upper scaled offsets from residuals (split conformal).

    Args:
        z: scaled residuals, shape ``(m, H)``, rows in origin order, NaN allowed (ignored).
        levels: interval levels in percent, e.g. ``(80, 95)``.
        min_residuals: fewest residuals in a column before Gaussian quantiles are used.
        weight_halflife: if given, residuals are weighted ``0.5 ** (age / weight_halflife)``
            (age in rows before the origin; the test point has weight 1), weighted conformal.
        aci_gamma: if > 0, the tail masses come from :func:`adaptive_tail_masses`.

    Returns:
        ``{level: (lower, upper)}`` with arrays of shape ``(H,)``; ``lower <= 0 <= upper`` and the
        bands of higher levels contain those of lower levels.
    """
    horizon = z.shape[1]
    m = z.shape[0]
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    finite = np.isfinite(z)
    if aci_gamma > 0:
        tails = adaptive_tail_masses(z, levels, aci_gamma, min_residuals)
    else:
        tails = {level: np.full(horizon, (100 - level) / 200.0) for level in levels}
    columns = []
    for h in range(horizon):
        col = z[finite[:, h], h]
        order = np.argsort(col, kind="stable")
        if weight_halflife is None:
            weights = None
        else:
            age = m - np.flatnonzero(finite[:, h])
            weights = (0.5 ** (age / weight_halflife))[order]
        columns.append((col[order], weights))
    for level in sorted(levels):
        gauss = NormalDist().inv_cdf(1.0 - (100 - level) / 200.0)
        lower = np.empty(horizon)
        upper = np.empty(horizon)
        for h, (col, weights) in enumerate(columns):
            n = len(col)
            beta = float(tails[level][h])
            if n < min_residuals:
                lower[h], upper[h] = -gauss, gauss
                continue
            if weights is None:
                k_lo = math.floor((n + 1) * beta + 1e-9)
                k_hi = math.ceil((n + 1) * (1.0 - beta) - 1e-9)
            else:
                total = weights.sum() + 1.0
                cum = np.cumsum(weights) / total
                k_hi = int(np.searchsorted(cum, 1.0 - beta - 1e-12)) + 1
                k_lo = int(np.searchsorted(cum, beta - 1.0 / total + 1e-12, side="right")) + 1
            lower[h] = col[min(max(k_lo, 1), n) - 1]
            upper[h] = col[min(max(k_hi, 1), n) - 1]
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
