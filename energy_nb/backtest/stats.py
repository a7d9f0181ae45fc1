"""Backtest statistics under the names backtesting.py users know.

Every statistic is defined in ``docs/backtest.md``. In short, with ``E`` the daily equity,
``r`` its daily simple returns, ``g`` their geometric mean and ``A = 252`` trading days a year:

* ``Return (Ann.) [%] = ((1 + g) ** A - 1) * 100``
* ``Volatility (Ann.) [%] = sqrt((var(r) + (1 + g) ** 2) ** A - (1 + g) ** (2 * A)) * 100``
* ``CAGR [%] = ((E_end / E_0) ** (365.25 / calendar days) - 1) * 100``
* ``Sharpe Ratio = Return (Ann.) / Volatility (Ann.)`` (risk-free rate 0)
* ``Sortino Ratio = annual return / (sqrt(mean(min(r, 0) ** 2)) * sqrt(A))``
* ``Calmar Ratio = annual return / |max drawdown|``

These follow backtesting.py 0.6 (``backtesting/_stats.py``) including its fix of CAGR (calendar
years of 365.25 days) and of the leading NaN return, with three deliberate differences:
``Commissions [$]`` is always reported; ``Exposure Time [%]`` counts the days a position is held
at the close; a geometric mean that is undefined (a return of -100 % or worse) gives NaN rather
than 0.

Usage::

    stats = compute_stats(engine_result)
    stats["Sharpe Ratio"]
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from energy_nb.backtest.engine import EngineResult

__all__ = [
    "STAT_NAMES",
    "TRADING_DAYS",
    "compute_stats",
    "drawdown",
    "drawdown_periods",
    "geometric_mean",
    "stats_to_jsonable",
]

#: Trading days per year used for annualisation.
TRADING_DAYS = 252

#: Names of the statistics, in display order.
STAT_NAMES: tuple[str, ...] = (
    "Start",
    "End",
    "Duration",
    "Exposure Time [%]",
    "Equity Final [$]",
    "Equity Peak [$]",
    "Commissions [$]",
    "Return [%]",
    "Buy & Hold Return [%]",
    "Return (Ann.) [%]",
    "Volatility (Ann.) [%]",
    "CAGR [%]",
    "Sharpe Ratio",
    "Sortino Ratio",
    "Calmar Ratio",
    "Max. Drawdown [%]",
    "Avg. Drawdown [%]",
    "Max. Drawdown Duration",
    "Avg. Drawdown Duration",
    "# Trades",
    "Win Rate [%]",
    "Best Trade [%]",
    "Worst Trade [%]",
    "Avg. Trade [%]",
    "Max. Trade Duration",
    "Avg. Trade Duration",
    "Profit Factor",
    "Expectancy [%]",
    "SQN",
)


def geometric_mean(returns: np.ndarray | pd.Series) -> float:
    """Geometric mean of simple returns, ``prod(1 + r) ** (1 / n) - 1``.

    Args:
        returns: simple returns (NaN ignored).

    Returns:
        The mean; NaN when there is no return or any ``1 + r <= 0``.
    """
    arr = np.asarray(returns, dtype=float)
    arr = arr[~np.isnan(arr)]
    if len(arr) == 0 or np.any(1.0 + arr <= 0):
        return math.nan
    return float(np.exp(np.log1p(arr).mean()) - 1.0)


def drawdown(equity: pd.Series) -> pd.Series:
    """Drawdown as a fraction below the running peak, ``1 - E / cummax(E)`` (>= 0).

    Args:
        equity: daily equity.

    Returns:
        Series named ``"drawdown"``; 0 at new highs.
    """
    values = equity.to_numpy(dtype=float)
    peak = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, 1.0 - values / peak, np.nan)
    return pd.Series(dd, index=equity.index, name="drawdown")


def drawdown_periods(dd: pd.Series) -> pd.DataFrame:
    """Drawdown periods: from the last day at a peak to the next day back at a peak (or the end).

    Args:
        dd: output of :func:`drawdown`.

    Returns:
        DataFrame with ``start``, ``end``, ``duration`` (Timedelta) and ``peak_dd`` (deepest
        drawdown in the period, a fraction), one row per period.
    """
    values = dd.to_numpy(dtype=float)
    at_peak = np.flatnonzero(values == 0)
    anchors = np.unique(np.r_[at_peak, len(values) - 1])
    rows = []
    for prev, cur in itertools.pairwise(anchors):
        if cur > prev + 1 or (cur == len(values) - 1 and values[cur] > 0 and cur > prev):
            rows.append(
                (
                    dd.index[prev],
                    dd.index[cur],
                    dd.index[cur] - dd.index[prev],
                    float(np.nanmax(values[prev: cur + 1])),
                )
            )
    return pd.DataFrame(rows, columns=["start", "end", "duration", "peak_dd"])


def _safe_ratio(num: float, den: float) -> float:
    if den == 0 or not math.isfinite(den) or not math.isfinite(num):
        return math.nan
    return num / den


def _first_last_valid(price: pd.Series) -> tuple[float, float]:
    valid = price[price > 0]
    return float(valid.iloc[0]), float(valid.iloc[-1])


def compute_stats(result: EngineResult) -> dict[str, Any]:
    """The statistic set of a simulation.

    Args:
        result: output of :func:`energy_nb.backtest.engine.simulate`.

    Returns:
        Dict keyed by :data:`STAT_NAMES` (in that order). Dates are ``pd.Timestamp``, durations
        ``pd.Timedelta``, ``# Trades`` an ``int``, everything else ``float`` (NaN when undefined,
        e.g. win rate without trades).
    """
    equity = result.equity
    index = equity.index
    e = equity.to_numpy(dtype=float)
    trades = result.trades
    s: dict[str, Any] = {}
    s["Start"] = index[0]
    s["End"] = index[-1]
    s["Duration"] = index[-1] - index[0]
    s["Exposure Time [%]"] = float((result.units.to_numpy() != 0).mean() * 100)
    s["Equity Final [$]"] = float(e[-1])
    s["Equity Peak [$]"] = float(np.max(e))
    s["Commissions [$]"] = float(result.commissions)
    s["Return [%]"] = float((e[-1] - e[0]) / e[0] * 100)
    first, last = _first_last_valid(result.price)
    s["Buy & Hold Return [%]"] = (last - first) / first * 100 if first > 0 else math.nan

    with np.errstate(divide="ignore", invalid="ignore"):
        day_returns = e[1:] / e[:-1] - 1.0
    day_returns = day_returns[np.isfinite(day_returns)]
    g = geometric_mean(day_returns)
    a = TRADING_DAYS
    ann_return = (1 + g) ** a - 1 if math.isfinite(g) else math.nan
    s["Return (Ann.) [%]"] = ann_return * 100
    if len(day_returns) > 1 and math.isfinite(g):
        var = float(np.var(day_returns, ddof=1))
        vol = math.sqrt(max((var + (1 + g) ** 2) ** a - (1 + g) ** (2 * a), 0.0))
    else:
        vol = math.nan
    s["Volatility (Ann.) [%]"] = vol * 100
    years = (s["Duration"].days + s["Duration"].seconds / 86400) / 365.25
    ratio = e[-1] / e[0]
    s["CAGR [%]"] = (ratio ** (1 / years) - 1) * 100 if years > 0 and ratio >= 0 else math.nan
    s["Sharpe Ratio"] = _safe_ratio(ann_return, vol)
    if len(day_returns):
        downside = math.sqrt(float(np.mean(np.minimum(day_returns, 0.0) ** 2))) * math.sqrt(a)
    else:
        downside = math.nan
    s["Sortino Ratio"] = _safe_ratio(ann_return, downside)
    dd = drawdown(equity)
    max_dd = float(np.nan_to_num(np.nanmax(dd.to_numpy()))) if dd.notna().any() else math.nan
    s["Calmar Ratio"] = _safe_ratio(ann_return, max_dd)
    s["Max. Drawdown [%]"] = -max_dd * 100
    periods = drawdown_periods(dd)
    if len(periods):
        s["Avg. Drawdown [%]"] = -float(periods["peak_dd"].mean()) * 100
        s["Max. Drawdown Duration"] = periods["duration"].max()
        s["Avg. Drawdown Duration"] = periods["duration"].mean().ceil("D")
    else:
        s["Avg. Drawdown [%]"] = math.nan
        s["Max. Drawdown Duration"] = pd.NaT
        s["Avg. Drawdown Duration"] = pd.NaT

    n = len(trades)
    s["# Trades"] = int(n)
    pnl = trades["PnL"].to_numpy(dtype=float)
    returns = trades["ReturnPct"].to_numpy(dtype=float)
    if n:
        s["Win Rate [%]"] = float((pnl > 0).mean() * 100)
        s["Best Trade [%]"] = float(np.max(returns) * 100)
        s["Worst Trade [%]"] = float(np.min(returns) * 100)
        s["Avg. Trade [%]"] = geometric_mean(returns) * 100
        s["Max. Trade Duration"] = trades["Duration"].max()
        s["Avg. Trade Duration"] = trades["Duration"].mean().ceil("D")
        s["Profit Factor"] = _safe_ratio(
            float(returns[returns > 0].sum()), abs(float(returns[returns < 0].sum()))
        )
        s["Expectancy [%]"] = float(np.mean(returns) * 100)
        sd = float(np.std(pnl, ddof=1)) if n > 1 else math.nan
        s["SQN"] = _safe_ratio(math.sqrt(n) * float(np.mean(pnl)), sd)
    else:
        for key in ("Win Rate [%]", "Best Trade [%]", "Worst Trade [%]", "Avg. Trade [%]",
                    "Profit Factor", "Expectancy [%]", "SQN"):
            s[key] = math.nan
        s["Max. Trade Duration"] = pd.NaT
        s["Avg. Trade Duration"] = pd.NaT
    for key, value in s.items():
        if isinstance(value, (np.floating,)):
            s[key] = float(value)
    return {name: s[name] for name in STAT_NAMES}


def stats_to_jsonable(stats: dict[str, Any]) -> dict[str, Any]:
    """Convert a stats dict to JSON types.

    Dates become ``"YYYY-MM-DD"``, durations the pandas text form (``"12 days 00:00:00"``, which
    ``pd.Timedelta`` parses back), NaN/NaT ``None``.

    Args:
        stats: output of :func:`compute_stats`.

    Returns:
        A dict with the same keys.
    """
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if value is None or value is pd.NaT:
            out[key] = None
        elif isinstance(value, pd.Timestamp):
            out[key] = value.strftime("%Y-%m-%d")
        elif isinstance(value, pd.Timedelta):
            out[key] = str(value)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            out[key] = int(value)
        elif isinstance(value, (float, np.floating)):
            out[key] = float(value) if math.isfinite(float(value)) else None
        else:
            out[key] = value
    return out
