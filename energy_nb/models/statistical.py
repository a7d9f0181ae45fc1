"""Statistical models on log prices: ``arima``, ``ets`` and ``theta`` (statsmodels).

All three estimate their parameters with statsmodels on a bounded recent window (fast enough to
refit at every origin) and then run their own vectorised filter/forecast recursions over the
whole series, so that forecasts from any past origin (needed for the calibrated intervals and for
``auto``'s validation) cost no refit. ``update`` keeps the parameters and only re-runs the filter.

Usage::

    >>> Arima(max_p=2, max_q=2, window=500).fit(y).predict(10)
    >>> Ets(damped=True).fit(y).predict(10)
    >>> Theta(theta=2.0).fit(y).predict(10)
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.signal import lfilter

from energy_nb.models.base import ForecastModel, check_int, check_number
from energy_nb.models.errors import InvalidParameterError
from energy_nb.models.intervals import DEFAULT_HALFLIFE, DEFAULT_WINDOW
from energy_nb.models.transforms import PreparedSeries


def _is_stable(coefs: np.ndarray) -> bool:
    """True when ``1 - c1 z - c2 z^2 ...`` has all roots outside the unit circle."""
    if len(coefs) == 0 or not np.any(coefs):
        return True
    roots = np.roots(np.r_[-coefs[::-1], 1.0])
    return bool(np.all(np.abs(roots) > 1.0 + 1e-6))


def _arma_residuals(returns: np.ndarray, mu: float, ar: np.ndarray, ma: np.ndarray) -> np.ndarray:
    """Innovations ``e`` of ``r - mu = sum ar_i (r_{t-i} - mu) + e_t + sum ma_j e_{t-j}``.

    Zero initial conditions; causal (``e[t]`` uses ``returns[:t+1]`` only).
    """
    x = returns - mu
    return lfilter(np.r_[1.0, -ar], np.r_[1.0, ma], x)


class Arima(ForecastModel):
    """ARMA(p, q) on daily log returns (= ARIMA(p, 1, q) on log prices) with automatic order.

    Order selection: every ``(p, q)`` with ``p <= max_p``, ``q <= max_q``, with and without a
    mean (if ``allow_mean``), is estimated with statsmodels' Hannan–Rissanen estimator on the last
    ``window`` returns; non-stationary or non-invertible candidates are dropped, and the one with
    the lowest AIC of its conditional residuals wins (``ARMA(0, 0)`` = random walk is always a
    candidate).

    Args:
        max_p: largest AR order (0..5).
        max_q: largest MA order (0..5).
        window: number of recent returns used for selection and estimation (>= 50).
        allow_mean: also consider a non-zero mean return (drift).
        calibration_window: origins used to calibrate the intervals.
        vol_halflife: half-life of the EWMA volatility scale of the intervals.

    Fitted attributes: ``order_`` ``(p, 1, q)``, ``mu_``, ``ar_``, ``ma_``, ``aic_``,
    ``candidates_`` (AIC per tried order), ``resid_``.
    """

    name = "arima"
    _supports_refilter = True

    def __init__(
        self,
        max_p: int = 2,
        max_q: int = 2,
        window: int = 500,
        allow_mean: bool = True,
        calibration_window: int = DEFAULT_WINDOW,
        vol_halflife: float = DEFAULT_HALFLIFE,
    ) -> None:
        self.max_p = max_p
        self.max_q = max_q
        self.window = window
        self.allow_mean = allow_mean
        self.calibration_window = calibration_window
        self.vol_halflife = vol_halflife

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int("max_p", self.max_p, 0, 5)
        check_int("max_q", self.max_q, 0, 5)
        check_int("window", self.window, 50, 100_000)
        if not isinstance(self.allow_mean, bool):
            raise InvalidParameterError("allow_mean must be True or False, "
                                        f"got {self.allow_mean!r}")

    def _fit(self, series: PreparedSeries) -> None:
        from statsmodels.tsa.arima.estimators.hannan_rissanen import hannan_rissanen

        returns = series.log_returns[-int(self.window):]
        burn = max(self.max_p, self.max_q)
        m = len(returns) - burn
        means = [0.0, float(returns.mean())] if self.allow_mean else [0.0]
        best: tuple[float, float, np.ndarray, np.ndarray, tuple[int, int]] | None = None
        candidates: dict[str, float] = {}
        for k_mean, mu in enumerate(means):
            for p in range(self.max_p + 1):
                for q in range(self.max_q + 1):
                    if p == q == 0:
                        ar, ma = np.zeros(0), np.zeros(0)
                    else:
                        if len(returns) < 3 * (p + q) + 20:
                            continue
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                est, _ = hannan_rissanen(
                                    returns - mu, ar_order=p, ma_order=q, demean=False
                                )
                        except (ValueError, np.linalg.LinAlgError):
                            continue
                        ar = np.asarray(est.ar_params, dtype=float)
                        ma = np.asarray(est.ma_params, dtype=float)
                        if not (np.all(np.isfinite(ar)) and np.all(np.isfinite(ma))):
                            continue
                        if not (_is_stable(ar) and _is_stable(-ma)):
                            continue
                    resid = _arma_residuals(returns, mu, ar, ma)[burn:]
                    sigma2 = float(np.mean(resid**2))
                    if not np.isfinite(sigma2) or sigma2 <= 0:
                        continue
                    aic = m * np.log(sigma2) + 2 * (p + q + k_mean + 1)
                    candidates[f"({p},1,{q}){'+mean' if k_mean else ''}"] = round(aic, 3)
                    if best is None or aic < best[0] - 1e-9:
                        best = (aic, mu, ar, ma, (p, q))
        assert best is not None  # ARMA(0,0) without mean always qualifies
        self.aic_, self.mu_, self.ar_, self.ma_, (p, q) = best
        self.order_ = (p, 1, q)
        self.candidates_ = candidates
        self._refilter(series)

    def _refilter(self, series: PreparedSeries) -> None:
        returns = np.r_[0.0, series.log_returns]
        self.resid_ = _arma_residuals(returns, self.mu_, self.ar_, self.ma_)
        self.resid_[0] = 0.0

    def _paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        p, q = len(self.ar_), len(self.ma_)
        returns = np.r_[0.0, self.series_.log_returns]  # returns[t] ends at position t
        m = len(origins)
        if p == 0 and q == 0:
            return np.full((m, horizon), self.mu_) * np.arange(1, horizon + 1)[None, :]
        # history matrices: column i holds the value at t - i
        past_r = np.zeros((m, p))
        for i in range(p):
            idx = origins - i
            past_r[:, i] = np.where(idx >= 1, returns[np.maximum(idx, 0)] - self.mu_, 0.0)
        past_e = np.zeros((m, q))
        for j in range(q):
            idx = origins - j
            past_e[:, j] = np.where(idx >= 1, self.resid_[np.maximum(idx, 0)], 0.0)
        out = np.empty((m, horizon))
        for k in range(horizon):
            step = np.zeros(m)
            if p:
                step += past_r @ self.ar_
            if q:
                step += past_e @ self.ma_
            out[:, k] = step
            if p:
                past_r = np.column_stack([step, past_r[:, :-1]])
            if q:
                past_e = np.column_stack([np.zeros(m), past_e[:, :-1]])
        return np.cumsum(out + self.mu_, axis=1)

    def _info(self) -> dict[str, Any]:
        return {"order": list(self.order_), "mean_return": self.mu_, "aic": self.aic_}


class Ets(ForecastModel):
    """Exponential smoothing (Holt, additive, optionally damped trend) on log prices.

    Smoothing parameters are estimated by statsmodels' ``ExponentialSmoothing`` on the last
    ``window`` log prices; the level/trend filter is then run over the whole series.

    Args:
        trend: ``"add"`` (Holt) or ``None`` (simple exponential smoothing).
        damped: damp the trend (only with ``trend="add"``).
        window: number of recent log prices used for estimation (>= 30).
        calibration_window: origins used to calibrate the intervals.
        vol_halflife: half-life of the EWMA volatility scale of the intervals.

    Fitted attributes: ``alpha_``, ``beta_``, ``phi_``, ``level_``, ``slope_`` (state arrays).
    """

    name = "ets"
    _supports_refilter = True

    def __init__(
        self,
        trend: str | None = "add",
        damped: bool = True,
        window: int = 500,
        calibration_window: int = DEFAULT_WINDOW,
        vol_halflife: float = DEFAULT_HALFLIFE,
    ) -> None:
        self.trend = trend
        self.damped = damped
        self.window = window
        self.calibration_window = calibration_window
        self.vol_halflife = vol_halflife

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.trend not in ("add", None):
            raise InvalidParameterError(f"trend must be 'add' or None, got {self.trend!r}")
        if not isinstance(self.damped, bool):
            raise InvalidParameterError(f"damped must be True or False, got {self.damped!r}")
        check_int("window", self.window, 30, 100_000)

    def _fit(self, series: PreparedSeries) -> None:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        values = series.log_values[-int(self.window):]
        damped = bool(self.damped and self.trend == "add")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ExponentialSmoothing(
                values, trend=self.trend, damped_trend=damped, initialization_method="heuristic"
            ).fit()
        params = result.params
        self.alpha_ = float(np.clip(params["smoothing_level"], 0.0, 1.0))
        beta = params.get("smoothing_trend", 0.0) if self.trend else 0.0
        self.beta_ = float(np.clip(0.0 if beta is None or not np.isfinite(beta) else beta, 0, 1))
        phi = params.get("damping_trend", 1.0) if damped else 1.0
        self.phi_ = float(np.clip(1.0 if phi is None or not np.isfinite(phi) else phi, 0.0, 1.0))
        if self.trend is None:
            self.beta_, self.phi_ = 0.0, 0.0
        self._refilter(series)

    def _refilter(self, series: PreparedSeries) -> None:
        y = series.log_values
        alpha, beta, phi = self.alpha_, self.beta_, self.phi_
        level = np.empty(len(y))
        slope = np.empty(len(y))
        l_prev, b_prev = float(y[0]), 0.0
        for t, value in enumerate(y.tolist()):
            l_new = alpha * value + (1.0 - alpha) * (l_prev + phi * b_prev)
            b_new = beta * (l_new - l_prev) + (1.0 - beta) * phi * b_prev
            level[t], slope[t] = l_new, b_new
            l_prev, b_prev = l_new, b_new
        self.level_, self.slope_ = level, slope

    def _paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        steps = np.arange(1, horizon + 1)
        if self.phi_ == 1.0:
            damp = steps.astype(float)
        else:
            damp = np.cumsum(self.phi_**steps)
        y = self.series_.log_values
        base = self.level_[origins] - y[origins]
        return base[:, None] + self.slope_[origins][:, None] * damp[None, :]

    def _info(self) -> dict[str, Any]:
        return {"alpha": self.alpha_, "beta": self.beta_, "phi": self.phi_}


class Theta(ForecastModel):
    """The theta method (statsmodels ``ThetaModel``) on log prices.

    ``b0`` (slope of a linear trend) and the SES weight ``alpha`` are estimated by statsmodels
    on the last ``window`` log prices; the forecast from an origin is the SES level plus
    ``(1 - 1/theta) * b0 * (h - 1 + 1/alpha)``.

    Args:
        theta: the theta coefficient (>= 1; 2 is the classic method, 1 is SES).
        window: number of recent log prices used for estimation (>= 30).
        calibration_window: origins used to calibrate the intervals.
        vol_halflife: half-life of the EWMA volatility scale of the intervals.

    Fitted attributes: ``b0_``, ``alpha_``, ``level_`` (SES state array).
    """

    name = "theta"
    _supports_refilter = True

    def __init__(
        self,
        theta: float = 2.0,
        window: int = 500,
        calibration_window: int = DEFAULT_WINDOW,
        vol_halflife: float = DEFAULT_HALFLIFE,
    ) -> None:
        self.theta = theta
        self.window = window
        self.calibration_window = calibration_window
        self.vol_halflife = vol_halflife

    def _validate_params(self) -> None:
        super()._validate_params()
        check_number("theta", self.theta, 1.0, 100.0)
        check_int("window", self.window, 30, 100_000)

    def _fit(self, series: PreparedSeries) -> None:
        from statsmodels.tsa.forecasting.theta import ThetaModel

        values = series.log_values[-int(self.window):]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ThetaModel(values, period=1, deseasonalize=False, use_test=False).fit(
                use_mle=False
            )
        self.b0_ = float(result.params["b0"])
        self.alpha_ = float(np.clip(result.params["alpha"], 1e-6, 1.0))
        self.nobs_ = len(values)
        self._refilter(series)

    def _refilter(self, series: PreparedSeries) -> None:
        y = series.log_values
        alpha = self.alpha_
        level = lfilter([alpha], [1.0, -(1.0 - alpha)], y, zi=[(1.0 - alpha) * y[0]])[0]
        self.level_ = level

    def _paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        steps = np.arange(1, horizon + 1, dtype=float)
        alpha = self.alpha_
        drift = steps - 1.0 + (1.0 - (1.0 - alpha) ** self.nobs_) / alpha
        weight = 1.0 - 1.0 / float(self.theta)
        y = self.series_.log_values
        base = self.level_[origins] - y[origins]
        return base[:, None] + weight * self.b0_ * drift[None, :]

    def _info(self) -> dict[str, Any]:
        return {"b0": self.b0_, "alpha": self.alpha_}
