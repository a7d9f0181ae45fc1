"""One entry point for a backtest run, shared by the dashboard and the CLI, plus storage.

:func:`run_backtest` builds the strategy, computes its targets walk-forward on the prices up to
``end`` (history before ``start`` is available to the strategy as it would have been), simulates
the ``start``–``end`` window with the engine, and computes the statistics. The account starts flat
with cash on the first day of the window; the first order can fill on its second day.

Usage::

    result = run_backtest(prices, "sma-cross", {"fast": 10, "slow": 40},
                          capital=100_000, commission=0.001, store=store)
    result.stats["Sharpe Ratio"], result.trades, result.equity, result.run_id
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from energy_nb.backtest.engine import EngineConfig, EngineError, simulate
from energy_nb.backtest.stats import compute_stats, drawdown, stats_to_jsonable
from energy_nb.backtest.strategies import (
    ProgressCallback,
    Strategy,
    StrategyError,
    make_strategy,
)
from energy_nb.commodities import UnknownCommodityError
from energy_nb.data.repositories import BacktestRepository

__all__ = [
    "DEFAULT_COMMISSION",
    "EQUITY_COLUMNS",
    "BacktestError",
    "BacktestResult",
    "backtest_targets",
    "equity_frame_from_records",
    "list_backtests",
    "load_backtest",
    "run_backtest",
    "save_backtest",
    "trades_frame_from_records",
]

#: The default commission (a fraction of traded value: 0.001 = 0.1 %) of every backtest entry
#: point — :func:`run_backtest`, the Backtest page, ``energy-nb backtest`` and explore.ipynb —
#: so the same choices give the same numbers everywhere. The engine's own default stays 0.
DEFAULT_COMMISSION: float = 0.001

#: Columns of :attr:`BacktestResult.equity`.
EQUITY_COLUMNS: list[str] = ["Price", "Position", "Cash", "Equity", "BuyHold", "DrawdownPct",
                             "BuyHoldDrawdownPct"]


class BacktestError(ValueError):
    """A backtest cannot run with these inputs (bad dates, too few prices, bad settings)."""


@dataclass
class BacktestResult:
    """Everything a backtest produced.

    Attributes:
        commodity: commodity code (the price series' name).
        strategy: strategy name.
        params: the strategy's validated parameters.
        config: money settings.
        stats: :func:`~energy_nb.backtest.stats.compute_stats` output (backtesting.py names).
        trades: round trips (columns :data:`~energy_nb.backtest.engine.TRADE_COLUMNS`).
        equity: daily frame with :data:`EQUITY_COLUMNS` (``BuyHold`` = capital invested in the
            commodity on the first day without costs; ``DrawdownPct`` = ``1 - E / max E``).
        info: details from the strategy (forecasts made, refits, skipped dates) and the engine.
        created_at: UTC time of the run, ISO format.
        run_id: row id in the ``backtests`` table once stored.
    """

    commodity: str
    strategy: str
    params: dict[str, Any]
    config: EngineConfig
    stats: dict[str, Any]
    trades: pd.DataFrame
    equity: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    run_id: int | None = None

    @property
    def start(self) -> pd.Timestamp:
        """First day of the simulated window."""
        return pd.Timestamp(self.equity.index[0])

    @property
    def end(self) -> pd.Timestamp:
        """Last day of the simulated window."""
        return pd.Timestamp(self.equity.index[-1])

    def stats_series(self) -> pd.Series:
        """The statistics as a ``pd.Series`` (like backtesting.py prints them)."""
        return pd.Series(self.stats, dtype=object, name=f"{self.strategy} {self.commodity}")

    def trades_records(self) -> list[dict[str, Any]]:
        """Trades as JSON-safe records (times ``YYYY-MM-DD``, durations in days)."""
        return _records(self.trades)

    def equity_records(self) -> list[dict[str, Any]]:
        """Equity rows as JSON-safe records with a ``date`` field."""
        return _records(self.equity.reset_index())

    def to_dict(self, *, include_series: bool = True) -> dict[str, Any]:
        """JSON-safe dict: ``stats`` (backtesting.py names as keys), ``trades``, ``equity``.

        Args:
            include_series: include the ``trades`` and ``equity`` lists.

        Returns:
            The dict (no NaN; ``json.dumps(..., allow_nan=False)`` accepts it).
        """
        out: dict[str, Any] = {
            "id": self.run_id,
            "commodity": self.commodity,
            "strategy": self.strategy,
            "params": _jsonable(self.params),
            "config": self.config.to_dict(),
            "start": self.start.strftime("%Y-%m-%d"),
            "end": self.end.strftime("%Y-%m-%d"),
            "created_at": self.created_at,
            "info": _jsonable(self.info),
            "stats": stats_to_jsonable(self.stats),
        }
        if include_series:
            out["trades"] = self.trades_records()
            out["equity"] = self.equity_records()
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, pd.Timedelta):
        return value / pd.Timedelta(days=1)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    columns = list(frame.columns)
    for row in frame.itertuples(index=False, name=None):
        record = {}
        for col, value in zip(columns, row):
            if value is pd.NaT:
                record[col] = None
            elif isinstance(value, pd.Timestamp):
                record[col] = value.strftime("%Y-%m-%d")
            elif isinstance(value, pd.Timedelta):
                record[col] = value / pd.Timedelta(days=1)
            else:
                record[col] = _jsonable(value)
        out.append(record)
    return out


def trades_frame_from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Rebuild a trades DataFrame from :meth:`BacktestResult.trades_records` output."""
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return frame
    for col in ("EntryTime", "ExitTime"):
        frame[col] = pd.to_datetime(frame[col])
    frame["Duration"] = pd.to_timedelta(frame["Duration"], unit="D")
    return frame


def equity_frame_from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Rebuild an equity DataFrame (indexed by ``date``) from its records.

    The records are those of :meth:`BacktestResult.equity_records`.
    """
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return frame
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.set_index("date").astype(float)


def _window(prices: pd.Series, start: Any, end: Any) -> tuple[pd.Series, pd.Timestamp | None]:
    try:
        start_ts = None if start is None else pd.Timestamp(start)
        end_ts = None if end is None else pd.Timestamp(end)
    except (TypeError, ValueError) as exc:
        raise BacktestError(f"invalid date: {exc}") from None
    if start_ts is not None and end_ts is not None and start_ts >= end_ts:
        raise BacktestError(f"start {start_ts.date()} must be before end {end_ts.date()}")
    history = prices if end_ts is None else prices.loc[:end_ts]
    window = history if start_ts is None else history.loc[start_ts:]
    if window.notna().sum() < 2:
        first, last = prices.index[0].date(), prices.index[-1].date()
        raise BacktestError(
            f"fewer than 2 prices between {start_ts.date() if start_ts is not None else first} "
            f"and {end_ts.date() if end_ts is not None else last} (data: {first} to {last})"
        )
    return history, (window.index[0] if start_ts is not None else None)


def run_backtest(
    prices: pd.Series,
    strategy: str | Strategy = "buy-and-hold",
    params: dict[str, Any] | None = None,
    *,
    capital: float = 100_000.0,
    commission: float = DEFAULT_COMMISSION,
    fixed_commission: float = 0.0,
    slippage_bps: float = 0.0,
    start: Any = None,
    end: Any = None,
    progress: ProgressCallback | None = None,
    store: Any = None,
) -> BacktestResult:
    """Run one backtest.

    Args:
        prices: price series of one commodity (its ``name`` is the commodity code), e.g.
            ``store.load("BRENT")``; NaN and non-positive prices are handled by the engine.
        strategy: a name from :data:`~energy_nb.backtest.strategies.STRATEGY_NAMES` or a
            :class:`Strategy` instance (then ``params`` must be empty).
        params: the strategy's parameters.
        capital: initial cash.
        commission: commission as a fraction of traded value (default
            :data:`DEFAULT_COMMISSION`).
        fixed_commission: dollars per order.
        slippage_bps: slippage in basis points.
        start: first day of the simulation (default: first price); earlier prices are history.
        end: last day (default: last price); later prices are ignored entirely.
        progress: ``progress(done, total)`` for walk-forward strategies.
        store: a :class:`~energy_nb.data.store.PriceStore` to save the run in (``backtests``
            table); ``None`` to not store.

    Returns:
        The :class:`BacktestResult` (with ``run_id`` when stored).

    Raises:
        StrategyError: unknown strategy or invalid parameter.
        BacktestError: bad dates, too few prices or invalid money settings.
    """
    if not isinstance(prices, pd.Series) or not isinstance(prices.index, pd.DatetimeIndex):
        raise BacktestError("prices must be a pandas Series indexed by date")
    if prices.empty:
        raise BacktestError(f"no prices stored for {prices.name or 'this commodity'}")
    if isinstance(strategy, Strategy):
        if params:
            raise BacktestError("pass params either to the strategy or to run_backtest, not both")
        strat = strategy
    else:
        strat = make_strategy(strategy, **(params or {}))
    try:
        config = EngineConfig(capital=capital, commission=commission,
                              fixed_commission=fixed_commission, slippage_bps=slippage_bps)
    except EngineError as exc:
        raise BacktestError(str(exc)) from None
    prices = prices.sort_index()
    history, start_ts = _window(prices, start, end)
    targets = strat.positions(history, start=start_ts, progress=progress)
    if start_ts is not None:
        history, targets = history.loc[start_ts:], targets.loc[start_ts:]
    return backtest_targets(history, targets, strategy=strat.name, params=dict(strat.params),
                            config=config, info={"strategy": dict(strat.info)}, store=store)


def backtest_targets(
    prices: pd.Series,
    targets: pd.Series,
    *,
    strategy: str,
    params: dict[str, Any],
    config: EngineConfig,
    info: dict[str, Any] | None = None,
    store: Any = None,
) -> BacktestResult:
    """Simulate given targets on the whole of ``prices`` and package the result.

    Args:
        prices: the simulated window's prices (named by the commodity code).
        targets: target per day of ``prices`` (decided with data up to that day).
        strategy: name recorded with the result.
        params: parameters recorded with the result.
        config: money settings.
        info: extra details to record.
        store: store to save the run in, or ``None``.

    Returns:
        The :class:`BacktestResult`.

    Raises:
        BacktestError: the engine rejected the input.
    """
    try:
        sim = simulate(prices, targets, config)
    except EngineError as exc:
        raise BacktestError(str(exc)) from None
    stats = compute_stats(sim)
    equity = _equity_frame(sim)
    commodity = str(prices.name or "")
    details = dict(info or {})
    details.update({
        "orders": sim.orders,
        "slippage_cost": sim.slippage_cost,
        "ruined_at": sim.ruined_at.strftime("%Y-%m-%d") if sim.ruined_at is not None else None,
    })
    result = BacktestResult(
        commodity=commodity,
        strategy=strategy,
        params=params,
        config=config,
        stats=stats,
        trades=sim.trades.reset_index(drop=True),
        equity=equity,
        info=details,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if store is not None:
        data_version = None
        if commodity:
            try:
                data_version = store.data_version(commodity)
            except UnknownCommodityError:  # an ad-hoc series whose name is no commodity code
                data_version = None
        result.info["data_version"] = data_version
        save_backtest(store, result)
    return result


def _equity_frame(sim: Any) -> pd.DataFrame:
    mark = sim.mark  # the last positive price (see the engine's price policy)
    first = float(mark.dropna().iloc[0])
    capital = sim.config.capital
    buy_hold = (capital + capital / first * (mark - first)).where(mark.notna(), capital)
    frame = pd.DataFrame(
        {
            "Price": sim.price,
            "Position": sim.position,
            "Cash": sim.cash,
            "Equity": sim.equity,
            "BuyHold": buy_hold,
            "DrawdownPct": drawdown(sim.equity),
            "BuyHoldDrawdownPct": drawdown(buy_hold),
        }
    )
    frame.index.name = "date"
    return frame[EQUITY_COLUMNS]


def save_backtest(store: Any, result: BacktestResult) -> int:
    """Store a run in the ``backtests`` table (one transaction) and set ``result.run_id``.

    Args:
        store: a :class:`~energy_nb.data.store.PriceStore`.
        result: the run.

    Returns:
        The new row id.
    """
    payload = result.to_dict()
    params = {"strategy": payload["params"], "config": payload["config"],
              "start": payload["start"], "end": payload["end"], "info": payload["info"]}
    dump = lambda obj: json.dumps(obj, allow_nan=False, separators=(",", ":"))
    run_id = BacktestRepository(store).insert(
        commodity=result.commodity, strategy=result.strategy, params_json=dump(params),
        created_at=result.created_at, stats_json=dump(payload["stats"]),
        trades_json=dump(payload["trades"]), equity_json=dump(payload["equity"]))
    result.run_id = run_id
    return run_id


def _row_to_dict(row: tuple[Any, ...], with_series: bool) -> dict[str, Any]:
    run_id, commodity, strategy, params_json, created_at, stats_json = row[:6]
    params = json.loads(params_json)
    out = {
        "id": int(run_id),
        "commodity": commodity,
        "strategy": strategy,
        "params": params.get("strategy", {}),
        "config": params.get("config", {}),
        "start": params.get("start"),
        "end": params.get("end"),
        "info": params.get("info", {}),
        "created_at": created_at,
        "stats": json.loads(stats_json),
    }
    if with_series:
        out["trades"] = json.loads(row[6]) if row[6] else []
        out["equity"] = json.loads(row[7]) if row[7] else []
    return out


def list_backtests(store: Any, commodity: str | None = None,
                   limit: int = 10) -> list[dict[str, Any]]:
    """The most recent stored runs, newest first, without their trades and equity.

    Args:
        store: a :class:`~energy_nb.data.store.PriceStore`.
        commodity: only this commodity code, or all.
        limit: at most this many runs.

    Returns:
        Dicts like :meth:`BacktestResult.to_dict` (``include_series=False``) with ``id``.
    """
    rows = BacktestRepository(store).list(commodity=commodity, limit=limit)
    return [_row_to_dict(row, with_series=False) for row in rows]


def load_backtest(store: Any, run_id: int) -> dict[str, Any]:
    """One stored run with its trades and equity records.

    Args:
        store: a :class:`~energy_nb.data.store.PriceStore`.
        run_id: the row id.

    Returns:
        The run as a dict (see :meth:`BacktestResult.to_dict`); rebuild frames with
        :func:`trades_frame_from_records` / :func:`equity_frame_from_records`.

    Raises:
        BacktestError: no such run.
    """
    row = BacktestRepository(store).get(int(run_id))
    if row is None:
        raise BacktestError(f"no stored backtest with id {run_id}")
    return _row_to_dict(row, with_series=True)


# re-exported for callers that catch every user error of a run in one place
UserError = (BacktestError, StrategyError)
