"""A plain day-by-day loop implementation of the engine's rules.

It exists as an independent reference: the tests check that the vectorised
:func:`energy_nb.backtest.engine.simulate` gives the same cash, units, equity and round trips
(the loop books trades incrementally, the engine groups its orders with array operations), and
the benchmark times it as the baseline. Use :func:`~energy_nb.backtest.engine.simulate` in real
code.

Usage::

    loop = simulate_loop(prices, targets, EngineConfig())
    loop.equity, loop.trades
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_nb.backtest.engine import EngineConfig, snap_flat, trades_frame

__all__ = ["LoopResult", "simulate_loop"]


class _TradeBook:
    """Books round trips one fill at a time."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []
        self.open: list[Any] | None = None  # side, entry units, entry value, exit units,
        #                                     exit value, commission, slippage, entry bar

    def _start(self, side: int, units: float, px: float, comm: float, slip: float,
               bar: int) -> None:
        self.open = [side, units, units * px, 0.0, 0.0, comm, slip, bar]

    def _close(self, bar: int, is_open: bool) -> None:
        assert self.open is not None
        self.rows.append([*self.open, bar, is_open])
        self.open = None

    def fill(self, bar: int, q_old: float, q_new: float, px: float, comm: float,
             slip: float) -> None:
        dq = q_new - q_old
        if q_old == 0.0:
            self._start(1 if q_new > 0 else -1, abs(q_new), px, comm, slip, bar)
            return
        tr = self.open
        assert tr is not None
        side = tr[0]
        if q_new * side > 0:  # same side: add or reduce
            if abs(q_new) > abs(q_old):
                tr[1] += abs(dq)
                tr[2] += abs(dq) * px
            else:
                tr[3] += abs(dq)
                tr[4] += abs(dq) * px
            tr[5] += comm
            tr[6] += slip
            return
        share = abs(q_old) / abs(dq)  # close or flip: the closing part's share of the costs
        tr[3] += abs(q_old)
        tr[4] += abs(q_old) * px
        tr[5] += comm * share
        tr[6] += slip * share
        self._close(bar, False)
        if q_new != 0.0:
            self._start(-side, abs(q_new), px, comm * (1 - share), slip * (1 - share), bar)

    def frame(self, index: pd.DatetimeIndex, last_mark: float) -> pd.DataFrame:
        if self.open is not None:
            remaining = self.open[1] - self.open[3]
            self.open[3] += remaining
            self.open[4] += remaining * last_mark
            self._close(len(index) - 1, True)
        cols = list(zip(*self.rows)) if self.rows else [[]] * 10
        arr = [np.asarray(c) for c in cols]
        return trades_frame(index, arr[0], arr[1].astype(float), arr[2].astype(float),
                            arr[3].astype(float), arr[4].astype(float), arr[5].astype(float),
                            arr[6].astype(float), arr[7], arr[8], arr[9])


@dataclass
class LoopResult:
    """Daily cash, units and equity, total commission and the trades table of the loop."""

    cash: np.ndarray
    units: np.ndarray
    equity: np.ndarray
    commissions: float
    trades: pd.DataFrame


def simulate_loop(
    prices: pd.Series, targets: np.ndarray | list[float], config: EngineConfig
) -> LoopResult:
    """Simulate one day at a time (same rules as the engine, see its module docstring).

    Args:
        prices: daily prices (NaN and values <= 0 allowed).
        targets: target fraction per day, executed the next day.
        config: money settings.

    Returns:
        The :class:`LoopResult`.
    """
    price = [float(v) for v in prices.to_numpy(dtype=float)]
    target = [float(v) for v in snap_flat(np.asarray(targets, dtype=float))]
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
        fillable = not math.isnan(p) and p > 0
        if fillable:
            mark = p
        want = 0.0 if (i == 0 or ruined) else target[i - 1]
        if not ruined and fillable and units != 0.0 and cash + units * p <= 0:
            # ruin by the price: stop-out at the price where equity is exactly 0, then stop
            ruined = True
            book.fill(i, units, 0.0, -cash / units, 0.0, 0.0)
            units = held = cash = 0.0
        elif fillable and want != held:
            equity_before = cash + units * p
            new_units = want * equity_before / p if equity_before > 0 else 0.0
            delta = new_units - units
            if delta != 0.0:
                fill = p * (1 + slip) if delta > 0 else p * (1 - slip)
                commission = config.commission * abs(delta) * fill + config.fixed_commission
                if cash - (delta * fill + commission) + new_units * p <= 0:
                    # ruin by the order's costs: not made; close at the price, costs = the rest
                    ruined = True
                    if units != 0.0:
                        total_comm += equity_before
                        book.fill(i, units, 0.0, p, equity_before, 0.0)
                        units = cash = 0.0
                    delta = 0.0
                else:
                    cash -= delta * fill + commission
                    total_comm += commission
                    book.fill(i, units, new_units, fill, commission, abs(delta) * p * slip)
                    units = new_units
            held = want
        equity = cash + (units * mark if units != 0.0 else 0.0)
        out_cash[i] = cash
        out_units[i] = units
        out_equity[i] = equity
    return LoopResult(out_cash, out_units, out_equity, total_comm,
                      book.frame(prices.index, mark))
