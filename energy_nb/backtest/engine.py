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
    * If equity falls to zero or below (possible with a short position when the price more than
      doubles, or with fixed fees on a tiny account), the account is ruined: the position is
      closed at the next fillable price and no new position is opened afterwards.

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
    "EngineConfig",
    "EngineError",
    "EngineResult",
    "TRADE_COLUMNS",
    "simulate",
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
        """Daily state as one DataFrame (columns Price, Mark, Target, Units, Cash, Equity, Position)."""
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
    if not allow_short and (arr < 0).any():
        bad = index[arr < 0][0]
        raise EngineError(f"short positions are off but the target is negative on {bad.date()}")
    return np.clip(arr, -1.0, 1.0)


class _TradeBook:
    """Collects round trips while orders fill (internal)."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.open: list[Any] | None = None  # side, entry_units, entry_value, exit_units,
        #                                      exit_value, commission, slippage, entry_bar

    def _start(self, side: int, units: float, px: float, comm: float, slip: float, bar: int) -> None:
        self.open = [side, units, units * px, 0.0, 0.0, comm, slip, bar]

    def _close(self, bar: int, is_open: bool) -> None:
        side, eu, ev, xu, xv, comm, slip, entry_bar = self.open  # type: ignore[misc]
        pnl = side * (xv - ev) - comm
        self.rows.append((side, eu, ev, xu, xv, pnl, comm, slip, entry_bar, bar, is_open))
        self.open = None

    def fill(self, bar: int, q_old: float, q_new: float, px: float, comm: float, slip: float) -> None:
        dq = q_new - q_old
        if dq == 0.0:
            return
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
        # close (q_new == 0) or flip: the closing part gets |q_old| / |dq| of the costs
        share = abs(q_old) / abs(dq)
        tr[3] += abs(q_old)
        tr[4] += abs(q_old) * px
        tr[5] += comm * share
        tr[6] += slip * share
        self._close(bar, False)
        if q_new != 0.0:
            self._start(-side, abs(q_new), px, comm * (1 - share), slip * (1 - share), bar)

    def finish(self, last_bar: int, last_mark: float) -> None:
        if self.open is not None:
            tr = self.open
            remaining = tr[1] - tr[3]
            tr[3] += remaining
            tr[4] += remaining * last_mark
            self._close(last_bar, True)

    def frame(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        if not self.rows:
            frame = pd.DataFrame({c: pd.Series(dtype=float) for c in TRADE_COLUMNS})
            frame["Side"] = frame["Side"].astype(object)
            frame["EntryTime"] = pd.Series(dtype="datetime64[ns]")
            frame["ExitTime"] = pd.Series(dtype="datetime64[ns]")
            frame["Duration"] = pd.Series(dtype="timedelta64[ns]")
            frame["EntryBar"] = frame["EntryBar"].astype(int)
            frame["ExitBar"] = frame["ExitBar"].astype(int)
            frame["DurationBars"] = frame["DurationBars"].astype(int)
            frame["IsOpen"] = frame["IsOpen"].astype(bool)
            return frame
        arr = list(zip(*self.rows))
        side = np.array(arr[0], dtype=int)
        eu, ev, xu, xv = (np.array(a, dtype=float) for a in arr[1:5])
        pnl, comm, slip = (np.array(a, dtype=float) for a in arr[5:8])
        entry_bar = np.array(arr[8], dtype=int)
        exit_bar = np.array(arr[9], dtype=int)
        entry_time = index[entry_bar]
        exit_time = index[exit_bar]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            frame = pd.DataFrame(
                {
                    "Side": np.where(side > 0, "long", "short"),
                    "Size": side * eu,
                    "EntryBar": entry_bar,
                    "ExitBar": exit_bar,
                    "EntryTime": entry_time,
                    "ExitTime": exit_time,
                    "EntryPrice": ev / eu,
                    "ExitPrice": xv / xu,
                    "PnL": pnl,
                    "ReturnPct": pnl / ev,
                    "Duration": exit_time - entry_time,
                    "DurationBars": exit_bar - entry_bar,
                    "Commission": comm,
                    "Slippage": slip,
                    "Costs": comm + slip,
                    "IsOpen": np.array(arr[10], dtype=bool),
                }
            )
        return frame


def _run(
    price: np.ndarray, mark: np.ndarray, desired: np.ndarray, fillable: np.ndarray,
    cfg: EngineConfig,
) -> tuple[np.ndarray, np.ndarray, _TradeBook, float, float, int]:
    """Fill orders at change points and return daily units, cash and the trade book."""
    n = len(price)
    # Orders can only fill on fillable days; the held target changes where the desired target
    # (seen on fillable days) differs from the previous fillable day's desired target.
    fill_idx = np.flatnonzero(fillable)
    d_fill = desired[fill_idx]
    prev = np.concatenate(([0.0], d_fill[:-1]))
    change = fill_idx[d_fill != prev]

    slip = cfg.slippage
    rate = float(cfg.commission)
    fixed = float(cfg.fixed_commission)
    book = _TradeBook()
    q = 0.0
    cash = float(cfg.capital)
    total_comm = 0.0
    total_slip = 0.0
    orders = 0
    q_after: list[float] = []
    cash_after: list[float] = []
    price_l = price.tolist()
    desired_l = desired.tolist()
    for i in change.tolist():
        p = price_l[i]
        w = desired_l[i]
        equity = cash + q * p
        q_new = w * equity / p if equity > 0 else 0.0
        dq = q_new - q
        if dq != 0.0:
            px = p * (1.0 + slip) if dq > 0 else p * (1.0 - slip)
            adq = abs(dq)
            comm = rate * adq * px + fixed
            slip_cost = adq * p * slip
            cash -= dq * px + comm
            total_comm += comm
            total_slip += slip_cost
            orders += 1
            book.fill(i, q, q_new, px, comm, slip_cost)
            q = q_new
        q_after.append(q)
        cash_after.append(cash)
    # forward-fill the state after each fill to every day
    seg = np.searchsorted(change, np.arange(n), side="right") - 1
    units_arr = np.concatenate(([0.0], np.asarray(q_after, dtype=float)))[seg + 1]
    cash_arr = np.concatenate(([float(cfg.capital)], np.asarray(cash_after, dtype=float)))[seg + 1]
    return units_arr, cash_arr, book, total_comm, total_slip, orders


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
    target = _validate_targets(targets, index, cfg.allow_short)
    price = values.to_numpy(dtype=float)
    fillable = np.isfinite(price) & (price > 0)
    mark = values.where(fillable).ffill().to_numpy(dtype=float)
    desired = np.concatenate(([0.0], target[:-1]))

    units, cash, book, comm, slip, orders = _run(price, mark, desired, fillable, cfg)
    held_value = np.where(units != 0.0, units * np.nan_to_num(mark), 0.0)
    equity = cash + held_value
    ruined_at: pd.Timestamp | None = None
    ruined = np.flatnonzero(equity <= 0)
    if len(ruined):
        k = int(ruined[0])
        ruined_at = index[k]
        desired = desired.copy()
        desired[k + 1:] = 0.0
        units, cash, book, comm, slip, orders = _run(price, mark, desired, fillable, cfg)
        held_value = np.where(units != 0.0, units * np.nan_to_num(mark), 0.0)
        equity = cash + held_value

    if book.open is not None:
        book.finish(len(price) - 1, float(mark[-1]))
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
        trades=book.frame(index),
        commissions=float(comm),
        slippage_cost=float(slip),
        orders=int(orders),
        ruined_at=ruined_at,
        config=cfg,
    )
