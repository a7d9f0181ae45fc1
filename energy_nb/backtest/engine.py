"""Vectorised daily backtest engine for one commodity.

The engine turns a series of *target positions* into cash, units held, equity and round-trip
trades. A target is a fraction of equity in ``[-1, 1]`` (``1`` = all equity long, ``-1`` = all
equity short, ``0`` = flat).

Timing rule (no look-ahead):
    ``targets[t]`` is the decision made with data up to and including day ``t`` (its close). It is
    executed at the price of day ``t + 1``, the next trading day. The target of the last day is
    never executed. Equity is marked to market at every day's price.

Orders:
    An order is sent only when the target changes; between changes the number of units is held
    constant (the fraction of equity drifts with the price). The order size is
    ``target * equity_before_trade / price - units_held``. A buy fills at
    ``price * (1 + slippage)``, a sell at ``price * (1 - slippage)``; the commission is
    ``commission_rate * |units traded| * fill price + fixed_commission`` (the fixed part once per
    order; a flip from long to short is one order). Cash pays for the fill and the commission, so
    ``equity = cash + units * price`` holds every day.

Missing and non-positive prices:
    * A NaN price (a gap kept from the source, e.g. NG on 2018-01-05) is marked at the last valid
      price, and no order fills on that day: a pending order fills at the next day with a valid
      price, using the latest target at that time.
    * A zero or negative price (WTI settled at -36.98 on 2020-04-20, a one-day expiry dislocation
      of the front-month futures contract) is treated exactly like a missing price: positions
      are marked at the last positive price and no order fills that day. This is the same policy
      as the forecasting models (:mod:`energy_nb.models.transforms`); marking a spot position at
      the print would wipe out any long account on a single artefact, and a fraction of equity
      cannot be turned into units at a price <= 0. The raw price stays visible in
      :attr:`EngineResult.price`; :attr:`EngineResult.mark` is the price actually used.

Ruin (the backtest stops):
    If equity at a close is zero or below (possible with a short position when the price more
    than doubles), the account is ruined on that day and the backtest stops there: that day's
    order is not made, the position is closed at the *stop-out price* — the price between the
    previous close and this one at which equity is exactly zero (``-cash / units``; no
    commission or slippage: a broker's margin call, not an order of the strategy) — and equity
    stays 0 until the end, with no further order. If instead the day's order would take equity
    to zero or below through its costs (fees on a tiny account), the order is not made, the
    position is closed at the day's price and its costs take what is left (equity 0); a flat
    account that cannot pay an order's costs keeps its cash and trades no more. An account can
    lose its capital, never more, so ``Return [%]`` and ``Max. Drawdown [%]`` are -100 % at
    worst; :attr:`EngineResult.ruined_at` is the day. Capital plus the trades' PnL is still the
    final equity.

Round trips:
    A trade is a maximal run of days holding a position of one sign. Adding to or reducing a
    position inside the run changes the trade's average entry or exit fill price; a flip closes one
    trade and opens the next, and the order's costs are split between the two in proportion to
    the units. A trade still open on the last day is valued at the last valid price without exit
    costs and flagged ``IsOpen``.

Usage::

    >>> import pandas as pd
    >>> prices = pd.Series([10.0, 11.0, 12.0, 11.0],
    ...                    index=pd.bdate_range("2024-01-01", periods=4, name="date"))
    >>> result = simulate(prices, [1, 0, 0, 0], EngineConfig(capital=1000.0))
    >>> round(float(result.equity.iloc[-1]), 2)
    1090.91
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "TRADE_COLUMNS",
    "EngineConfig",
    "EngineError",
    "EngineResult",
    "simulate",
    "trades_frame",
]

#: Columns of the trades table, in order (names follow backtesting.py where one exists).
TRADE_COLUMNS: list[str] = [
    "Side",
    "Size",
    "EntryBar",
    "ExitBar",
    "EntryTime",
    "ExitTime",
    "EntryPrice",
    "ExitPrice",
    "PnL",
    "ReturnPct",
    "Duration",
    "DurationBars",
    "Commission",
    "Slippage",
    "Costs",
    "IsOpen",
]


class EngineError(ValueError):
    """Invalid engine input (prices, targets or settings); the message names what is wrong."""


@dataclass(frozen=True)
class EngineConfig:
    """Money settings of a backtest.

    Attributes:
        capital: initial cash in dollars (> 0).
        commission: commission as a fraction of traded value, e.g. ``0.001`` = 0.1 %.
        fixed_commission: dollars paid per order on top of ``commission``.
        slippage_bps: adverse fill price move in basis points (1 bp = 0.01 %).
        allow_short: whether negative targets are accepted.

    Usage::

        EngineConfig(capital=100_000, commission=0.001, slippage_bps=2)
    """

    capital: float = 100_000.0
    commission: float = 0.0
    fixed_commission: float = 0.0
    slippage_bps: float = 0.0
    allow_short: bool = True

    def __post_init__(self) -> None:
        rules: list[tuple[str, float, float, bool, str]] = [
            ("capital", self.capital, 0.0, False, "must be > 0"),
            ("commission", self.commission, 0.0, True, "must be in [0, 1)"),
            ("fixed_commission", self.fixed_commission, 0.0, True, "must be >= 0"),
            ("slippage_bps", self.slippage_bps, 0.0, True, "must be in [0, 10000)"),
        ]
        for name, value, low, inclusive, rule in rules:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                                 np.floating)):
                raise EngineError(f"{name} must be a number, got {value!r}")
            v = float(value)
            ok = math.isfinite(v) and (v >= low if inclusive else v > low)
            if name == "commission":
                ok = ok and v < 1
            if name == "slippage_bps":
                ok = ok and v < 10_000
            if not ok:
                raise EngineError(f"{name} {rule}, got {value!r}")
        if not isinstance(self.allow_short, bool):
            raise EngineError(f"allow_short must be true or false, got {self.allow_short!r}")

    @property
    def slippage(self) -> float:
        """Slippage as a fraction of price."""
        return float(self.slippage_bps) / 10_000.0

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-safe dict."""
        return {
            "capital": float(self.capital),
            "commission": float(self.commission),
            "fixed_commission": float(self.fixed_commission),
            "slippage_bps": float(self.slippage_bps),
            "allow_short": bool(self.allow_short),
        }


@dataclass
class EngineResult:
    """Daily state and trades of one simulation.

    Attributes:
        price: the input prices (NaN and non-positive values kept).
        mark: the price used to mark to market (the last positive price; NaN before the first).
        target: the target fraction decided on each day (executes the next day).
        units: units held at each day's close (negative = short).
        cash: cash at each day's close.
        equity: ``cash + units * mark`` at each day's close.
        position: fraction of equity held at each day's close (``units * mark / equity``).
        trades: round trips, columns :data:`TRADE_COLUMNS`.
        commissions: total commission paid in dollars.
        slippage_cost: total slippage paid in dollars (``|units| * price * slippage``).
        orders: number of orders filled.
        ruined_at: first day equity was <= 0, if ever.
        config: the settings used.
    """

    price: pd.Series
    mark: pd.Series
    target: pd.Series
    units: pd.Series
    cash: pd.Series
    equity: pd.Series
    position: pd.Series
    trades: pd.DataFrame
    commissions: float
    slippage_cost: float
    orders: int
    ruined_at: pd.Timestamp | None
    config: EngineConfig = field(default_factory=EngineConfig)

    def frame(self) -> pd.DataFrame:
        """Daily state as one DataFrame.

        Columns: Price, Mark, Target, Units, Cash, Equity, Position.
        """
        return pd.DataFrame(
            {
                "Price": self.price,
                "Mark": self.mark,
                "Target": self.target,
                "Units": self.units,
                "Cash": self.cash,
                "Equity": self.equity,
                "Position": self.position,
            }
        )


def _validate_prices(prices: pd.Series) -> pd.Series:
    if not isinstance(prices, pd.Series):
        raise EngineError(f"prices must be a pandas Series, got {type(prices).__name__}")
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise EngineError("prices must have a DatetimeIndex")
    if len(prices) < 2:
        raise EngineError(f"need at least 2 prices, got {len(prices)}")
    if not prices.index.is_monotonic_increasing or prices.index.has_duplicates:
        raise EngineError("prices index must be sorted and unique")
    values = pd.to_numeric(prices, errors="coerce").astype(float)
    if np.isinf(values.to_numpy()).any():
        raise EngineError("prices contain infinite values")
    if not (values > 0).any():
        raise EngineError("prices contain no positive value")
    return values


#: Targets smaller than this fraction of equity mean "flat": a position of a few units in the
#: last bits of a float (e.g. 2e-16 left by arithmetic on weights) is not a trade.
FLAT_TARGET = 1e-9


def snap_flat(targets: np.ndarray) -> np.ndarray:
    """Set targets within :data:`FLAT_TARGET` of zero to exactly zero.

    Args:
        targets: target fractions of equity.

    Returns:
        A new array with near-zero targets flat.
    """
    return np.where(np.abs(targets) < FLAT_TARGET, 0.0, targets)


def _validate_targets(targets: Any, index: pd.DatetimeIndex, allow_short: bool) -> np.ndarray:
    if isinstance(targets, pd.Series):
        if not targets.index.equals(index):
            raise EngineError("targets must have the same index as prices")
        arr = targets.to_numpy(dtype=float)
    else:
        arr = np.asarray(targets, dtype=float)
    if arr.shape != (len(index),):
        raise EngineError(f"targets must have {len(index)} values, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = index[~np.isfinite(arr)][0]
        raise EngineError(f"targets must be finite; first bad value on {bad.date()}")
    if (np.abs(arr) > 1 + 1e-12).any():
        bad = index[np.abs(arr) > 1 + 1e-12][0]
        raise EngineError(f"targets must be in [-1, 1]; first bad value on {bad.date()}")
    arr = snap_flat(np.clip(arr, -1.0, 1.0))
    if not allow_short and (arr < 0).any():
        bad = index[arr < 0][0]
        raise EngineError(f"short positions are off but the target is negative on {bad.date()}")
    return arr


def _empty_trades() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=float) for c in TRADE_COLUMNS})
    frame["Side"] = frame["Side"].astype(object)
    frame["EntryTime"] = pd.Series(dtype="datetime64[ns]")
    frame["ExitTime"] = pd.Series(dtype="datetime64[ns]")
    frame["Duration"] = pd.Series(dtype="timedelta64[ns]")
    for col in ("EntryBar", "ExitBar", "DurationBars"):
        frame[col] = frame[col].astype(int)
    frame["IsOpen"] = frame["IsOpen"].astype(bool)
    return frame


def trades_frame(
    index: pd.DatetimeIndex,
    side: np.ndarray,
    entry_units: np.ndarray,
    entry_value: np.ndarray,
    exit_units: np.ndarray,
    exit_value: np.ndarray,
    commission: np.ndarray,
    slippage: np.ndarray,
    entry_bar: np.ndarray,
    exit_bar: np.ndarray,
    is_open: np.ndarray,
) -> pd.DataFrame:
    """Build the trades table (:data:`TRADE_COLUMNS`) from per-trade arrays.

    ``PnL = side * (exit_value - entry_value) - commission`` (slippage is inside the fill
    prices); ``ReturnPct = PnL / entry_value``.

    Returns:
        The DataFrame, one row per round trip.
    """
    if len(side) == 0:
        return _empty_trades()
    side = np.asarray(side, dtype=int)
    entry_bar = np.asarray(entry_bar, dtype=int)
    exit_bar = np.asarray(exit_bar, dtype=int)
    entry_time = index[entry_bar]
    exit_time = index[exit_bar]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pnl = side * (exit_value - entry_value) - commission
        return pd.DataFrame(
            {
                "Side": np.where(side > 0, "long", "short"),
                "Size": side * entry_units,
                "EntryBar": entry_bar,
                "ExitBar": exit_bar,
                "EntryTime": entry_time,
                "ExitTime": exit_time,
                "EntryPrice": entry_value / entry_units,
                "ExitPrice": exit_value / exit_units,
                "PnL": pnl,
                "ReturnPct": pnl / entry_value,
                "Duration": exit_time - entry_time,
                "DurationBars": exit_bar - entry_bar,
                "Commission": commission,
                "Slippage": slippage,
                "Costs": commission + slippage,
                "IsOpen": np.asarray(is_open, dtype=bool),
            }
        )


@dataclass
class _Orders:
    """Filled orders as parallel arrays (internal)."""

    bar: np.ndarray
    q_before: np.ndarray
    q_after: np.ndarray
    fill: np.ndarray
    commission: np.ndarray
    slippage: np.ndarray
    cash_after: np.ndarray

    def upto(self, k: int) -> _Orders:
        keep = self.bar <= k
        return _Orders(*(a[keep] for a in (self.bar, self.q_before, self.q_after, self.fill,
                                           self.commission, self.slippage, self.cash_after)))

    def plus(self, bar: int, q_before: float, q_after: float, fill: float, commission: float,
             slippage: float, cash_after: float) -> _Orders:
        row = (bar, q_before, q_after, fill, commission, slippage, cash_after)
        arrays = (self.bar, self.q_before, self.q_after, self.fill, self.commission,
                  self.slippage, self.cash_after)
        return _Orders(*(np.append(a, v) for a, v in zip(arrays, row)))


def _fill_orders(price: np.ndarray, desired: np.ndarray, fillable: np.ndarray,
                 cfg: EngineConfig) -> _Orders:
    """Fill orders where the target held changes; the only loop is over those change points."""
    # Orders fill on fillable days only; the held target changes where the desired target
    # (seen on fillable days) differs from the previous fillable day's desired target.
    fill_idx = np.flatnonzero(fillable)
    d_fill = desired[fill_idx]
    prev = np.concatenate(([0.0], d_fill[:-1]))
    change = d_fill != prev
    bars = fill_idx[change].tolist()
    prices = price[fill_idx][change].tolist()
    weights = d_fill[change].tolist()
    up = 1.0 + cfg.slippage
    down = 1.0 - cfg.slippage
    slip = cfg.slippage
    rate = float(cfg.commission)
    fixed = float(cfg.fixed_commission)
    q = 0.0
    cash = float(cfg.capital)
    rows: list[tuple[float, ...]] = []
    append = rows.append
    for i, p, w in zip(bars, prices, weights):
        equity = cash + q * p
        q_new = w * equity / p if equity > 0 else 0.0
        dq = q_new - q
        if dq == 0.0:
            continue
        if dq > 0:
            px = p * up
            adq = dq
        else:
            px = p * down
            adq = -dq
        comm = rate * adq * px + fixed
        cash -= dq * px + comm
        append((i, q, q_new, px, comm, adq * p * slip, cash))
        q = q_new
    table = np.array(rows, dtype=float).reshape(-1, 7)
    return _Orders(table[:, 0].astype(np.int64), *(table[:, j].copy() for j in range(1, 7)))


def _daily_state(n: int, orders: _Orders, capital: float) -> tuple[np.ndarray, np.ndarray]:
    """Units and cash at each day's close, forward-filled from the orders."""
    seg = np.searchsorted(orders.bar, np.arange(n), side="right")
    units = np.concatenate(([0.0], orders.q_after))[seg]
    cash = np.concatenate(([float(capital)], orders.cash_after))[seg]
    return units, cash


def _trades_from_orders(index: pd.DatetimeIndex, orders: _Orders, last_mark: float) -> pd.DataFrame:
    """Group filled orders into round trips, vectorised.

    Each order has a closing part (units taken off the position held before it) and an opening
    part (units added to the position held after it); a flip has both. Costs are split between
    the parts in proportion to their units.
    """
    if len(orders.bar) == 0:
        return _empty_trades()
    qb, qa = orders.q_before, orders.q_after
    sb, sa = np.sign(qb), np.sign(qa)
    adq = np.abs(qa - qb)
    new_trade = (sa != 0) & (sa != sb)
    ends_trade = (sb != 0) & (sa != sb)
    same = (sa == sb) & (sa != 0)
    open_units = np.where(new_trade, np.abs(qa), np.where(same & (np.abs(qa) > np.abs(qb)), adq,
                                                         0.0))
    close_units = np.where(ends_trade, np.abs(qb), np.where(same & (np.abs(qa) < np.abs(qb)), adq,
                                                           0.0))
    close_share = close_units / adq
    trade_after = np.cumsum(new_trade) - 1  # trade id held after each order (-1: none yet)
    trade_before = np.concatenate(([-1], trade_after[:-1]))
    n_trades = int(new_trade.sum())
    px = orders.fill

    def per_trade(values: np.ndarray, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        summed = np.bincount(ids[mask], weights=values[mask], minlength=n_trades)
        return summed.astype(float)  # bincount of nothing is an int array

    has_after = sa != 0
    has_before = sb != 0
    entry_units = per_trade(open_units, trade_after, has_after)
    entry_value = per_trade(open_units * px, trade_after, has_after)
    exit_units = per_trade(close_units, trade_before, has_before)
    exit_value = per_trade(close_units * px, trade_before, has_before)
    comm_close = orders.commission * close_share
    slip_close = orders.slippage * close_share
    commission = (per_trade(orders.commission - comm_close, trade_after, has_after)
                  + per_trade(comm_close, trade_before, has_before))
    slippage = (per_trade(orders.slippage - slip_close, trade_after, has_after)
                + per_trade(slip_close, trade_before, has_before))
    side = sa[new_trade].astype(int)
    entry_bar = orders.bar[new_trade]
    exit_bar = np.full(n_trades, len(index) - 1, dtype=np.int64)
    exit_bar[trade_before[ends_trade]] = orders.bar[ends_trade]
    is_open = np.zeros(n_trades, dtype=bool)
    if qa[-1] != 0:  # the last trade is still open: value the rest at the last mark, no costs
        remaining = entry_units[-1] - exit_units[-1]
        exit_units[-1] += remaining
        exit_value[-1] += remaining * last_mark
        is_open[-1] = True
    return trades_frame(index, side, entry_units, entry_value, exit_units, exit_value,
                        commission, slippage, entry_bar, exit_bar, is_open)


def simulate(
    prices: pd.Series,
    targets: pd.Series | np.ndarray | list[float],
    config: EngineConfig | None = None,
) -> EngineResult:
    """Simulate trading to the given target positions.

    Args:
        prices: daily prices with a sorted, unique DatetimeIndex; NaN and values <= 0 allowed
            (see the module docstring); at least one price must be positive.
        targets: target fraction of equity for each day, in ``[-1, 1]``, decided with data up to
            that day and executed at the next day's price.
        config: money settings (default: ``EngineConfig()``).

    Returns:
        The :class:`EngineResult`.

    Raises:
        EngineError: when prices, targets or settings are invalid.

    Usage::

        result = simulate(prices, positions, EngineConfig(capital=1e5, commission=0.001))
    """
    cfg = config or EngineConfig()
    values = _validate_prices(prices)
    index = values.index
    n = len(index)
    target = _validate_targets(targets, index, cfg.allow_short)
    price = values.to_numpy(dtype=float)
    fillable = np.isfinite(price) & (price > 0)
    mark = values.where(fillable).ffill().to_numpy(dtype=float)
    mark0 = np.nan_to_num(mark)
    desired = np.concatenate(([0.0], target[:-1]))

    orders = _fill_orders(price, desired, fillable, cfg)
    units, cash = _daily_state(n, orders, cfg.capital)
    equity = cash + units * mark0
    ruined_at: pd.Timestamp | None = None
    # equity at each close before that day's order, and after it
    pre = np.concatenate(([float(cfg.capital)], cash[:-1] + units[:-1] * mark0[1:]))
    ruined = np.flatnonzero((pre <= 0) | (equity <= 0))
    if len(ruined):
        # ruin: the backtest stops on day k (see the module docstring)
        k = int(ruined[0])
        ruined_at = index[k]
        orders = orders.upto(k - 1)  # the day's own order is not made
        q, c = float(units[k - 1]), float(cash[k - 1])
        if q != 0.0 and pre[k] <= 0:  # the price wiped the account out: stop-out at equity 0
            orders = orders.plus(k, q, 0.0, -c / q, 0.0, 0.0, 0.0)
        elif q != 0.0:  # the day's order costs would: close at the price, costs = what is left
            orders = orders.plus(k, q, 0.0, float(price[k]), float(pre[k]), 0.0, 0.0)
        units, cash = _daily_state(n, orders, cfg.capital)
        equity = cash + units * mark0
    held_value = units * mark0
    trades = _trades_from_orders(index, orders, float(mark[-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        position = np.where(units != 0.0, held_value / equity, 0.0)
    name = values.name
    return EngineResult(
        price=values,
        mark=pd.Series(mark, index=index, name=name),
        target=pd.Series(target, index=index, name="target"),
        units=pd.Series(units, index=index, name="units"),
        cash=pd.Series(cash, index=index, name="cash"),
        equity=pd.Series(equity, index=index, name="equity"),
        position=pd.Series(position, index=index, name="position"),
        trades=trades,
        commissions=float(orders.commission.sum()),
        slippage_cost=float(orders.slippage.sum()),
        orders=len(orders.bar),
        ruined_at=ruined_at,
        config=cfg,
    )
