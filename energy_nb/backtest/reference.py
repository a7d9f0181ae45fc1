"""A plain day-by-day loop implementation of the engine's rules.

It exists as an independent reference: the tests check that the vectorised
:func:`energy_nb.backtest.engine.simulate` gives the same cash, units and equity, and the
benchmark times it as the baseline. Use :func:`~energy_nb.backtest.engine.simulate` in real code.

Usage::

    >>> cash, units, equity, commissions = simulate_loop(prices, targets, EngineConfig())
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from energy_nb.backtest.engine import EngineConfig, _TradeBook

__all__ = ["simulate_loop"]


def simulate_loop(
    prices: pd.Series, targets: np.ndarray | list[float], config: EngineConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Simulate one day at a time (same rules as the engine, see its module docstring).

    Args:
        prices: daily prices (NaN and values <= 0 allowed).
        targets: target fraction per day, executed the next day.
        config: money settings.

    Returns:
        ``(cash, units, equity, total_commission)``; arrays have one value per day.
    """
    price = [float(v) for v in prices.to_numpy(dtype=float)]
    target = [float(v) for v in targets]
    n = len(price)
    slip = config.slippage
    cash = float(config.capital)
    units = 0.0
    held = 0.0
    mark = math.nan
    ruined = False
    total_comm = 0.0
    book = _TradeBook()
    out_cash = np.empty(n)
    out_units = np.empty(n)
    out_equity = np.empty(n)
    for i in range(n):
        p = price[i]
        if not math.isnan(p) and p > 0:
            mark = p
        want = 0.0 if (i == 0 or ruined) else target[i - 1]
        if not math.isnan(p) and p > 0 and want != held:
            equity_before = cash + units * p
            new_units = want * equity_before / p if equity_before > 0 else 0.0
            delta = new_units - units
            if delta != 0.0:
                fill = p * (1 + slip) if delta > 0 else p * (1 - slip)
                commission = config.commission * abs(delta) * fill + config.fixed_commission
                cash -= delta * fill + commission
                total_comm += commission
                book.fill(i, units, new_units, fill, commission, abs(delta) * p * slip)
                units = new_units
            held = want
        equity = cash + (units * mark if units != 0.0 else 0.0)
        if equity <= 0:
            ruined = True
        out_cash[i] = cash
        out_units[i] = units
        out_equity[i] = equity
    return out_cash, out_units, out_equity, total_comm
