"""Walk-forward parameter optimisation: choose on a rolling training window, trade the next one.

For each test window of ``test_days`` trading days, every parameter combination of the grid is
backtested on the ``train_days`` trading days just before it; the combination with the best
``objective`` statistic (e.g. ``"Sharpe Ratio"``) trades the test window. The test windows are
stitched into one out-of-sample run (one account, costs included at every switch), and only that
out-of-sample result is reported, with the chosen parameters per window.

No look-ahead: a combination's targets are computed once over the whole history, which is
exact because every strategy's target on day ``t`` uses prices up to ``t`` only (tested in
``tests/backtest``); the choice for a test window uses only the training window's results, which
end the day before the test window starts.

Usage::

    wf = walk_forward_optimize(prices, "sma-cross", {"fast": [5, 10, 20], "slow": [40, 80]},
                               train_days=504, test_days=126, objective="Sharpe Ratio")
    wf.windows          # one row per test window: dates, chosen params, scores
    wf.result.stats     # the out-of-sample statistics
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_nb.backtest.engine import EngineConfig, EngineError, simulate
from energy_nb.backtest.run import (
    DEFAULT_COMMISSION,
    BacktestError,
    BacktestResult,
    backtest_targets,
)
from energy_nb.backtest.stats import STAT_NAMES, compute_stats
from energy_nb.backtest.strategies import (
    ProgressCallback,
    StrategyError,
    make_strategy,
)

__all__ = ["OBJECTIVES", "WalkForwardResult", "walk_forward_optimize"]

#: Statistics that can be optimised (numbers only).
OBJECTIVES: tuple[str, ...] = tuple(
    name for name in STAT_NAMES
    if name not in ("Start", "End", "Duration", "Max. Drawdown Duration",
                    "Avg. Drawdown Duration", "Max. Trade Duration", "Avg. Trade Duration")
)


@dataclass
class WalkForwardResult:
    """Out-of-sample result of a walk-forward optimisation.

    Attributes:
        result: the stitched out-of-sample backtest (stats, trades, equity).
        windows: one row per test window: ``train_start``, ``train_end``, ``test_start``,
            ``test_end``, ``params`` (dict chosen), ``train_score`` (objective on the training
            window) and ``test_return_pct`` (the chosen params' return on the test window alone,
            for information).
        objective: the statistic optimised.
        grid: the parameter grid.
        skipped: parameter combinations rejected by the strategy, with the reason.
    """

    result: BacktestResult
    windows: pd.DataFrame
    objective: str
    grid: dict[str, list[Any]]
    skipped: list[str]

    def to_dict(self, *, include_series: bool = True) -> dict[str, Any]:
        """JSON-safe dict: the out-of-sample run plus ``windows``, ``objective`` and ``grid``."""
        out = self.result.to_dict(include_series=include_series)
        rows = []
        for row in self.windows.itertuples(index=False):
            rows.append({
                "train_start": row.train_start.strftime("%Y-%m-%d"),
                "train_end": row.train_end.strftime("%Y-%m-%d"),
                "test_start": row.test_start.strftime("%Y-%m-%d"),
                "test_end": row.test_end.strftime("%Y-%m-%d"),
                "params": row.params,
                "train_score": _finite(row.train_score),
                "test_return_pct": _finite(row.test_return_pct),
            })
        out["windows"] = rows
        out["objective"] = self.objective
        out["grid"] = self.grid
        out["skipped"] = self.skipped
        return out


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _score(prices: pd.Series, targets: pd.Series, config: EngineConfig, objective: str) -> float:
    try:
        value = compute_stats(simulate(prices, targets, config))[objective]
    except EngineError:
        return math.nan
    return float(value) if value is not None and math.isfinite(float(value)) else math.nan


def walk_forward_optimize(
    prices: pd.Series,
    strategy: str,
    grid: dict[str, list[Any]],
    *,
    fixed: dict[str, Any] | None = None,
    train_days: int = 504,
    test_days: int = 126,
    objective: str = "Sharpe Ratio",
    maximize: bool = True,
    capital: float = 100_000.0,
    commission: float = DEFAULT_COMMISSION,
    fixed_commission: float = 0.0,
    slippage_bps: float = 0.0,
    start: Any = None,
    end: Any = None,
    progress: ProgressCallback | None = None,
    store: Any = None,
) -> WalkForwardResult:
    """Optimise a strategy's parameters walk-forward and report the out-of-sample result.

    Args:
        prices: one commodity's prices (named by its code).
        strategy: strategy name.
        grid: ``{param: [values]}``; every combination is tried.
        fixed: parameters held constant.
        train_days: trading days of each training window (>= 20).
        test_days: trading days of each test window (>= 1).
        objective: statistic to optimise, one of :data:`OBJECTIVES`.
        maximize: maximise (default) or minimise the objective.
        capital: initial cash.
        commission: commission rate.
        fixed_commission: dollars per order.
        slippage_bps: slippage in basis points.
        start: first day a test window may start (default: after the first training window).
        end: last day used.
        progress: ``progress(done, total)`` over the (combination targets + windows) steps.
        store: store to save the out-of-sample run in (strategy recorded as
            ``"walk-forward <strategy>"``), or ``None``.

    Returns:
        The :class:`WalkForwardResult`.

    Raises:
        StrategyError: unknown strategy, parameter or no valid combination.
        BacktestError: bad windows, objective, dates or money settings.
    """
    if objective not in OBJECTIVES:
        raise BacktestError(f"unknown objective {objective!r}; "
                            f"choose one of {', '.join(OBJECTIVES)}")
    for name, value in (("train_days", train_days), ("test_days", test_days)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise BacktestError(f"{name} must be a whole number of trading days, got {value!r}")
    if train_days < 20:
        raise BacktestError(f"train_days must be >= 20, got {train_days}")
    if test_days < 1:
        raise BacktestError(f"test_days must be >= 1, got {test_days}")
    if not isinstance(grid, dict) or not grid:
        raise BacktestError("grid must map at least one parameter to a list of values")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not list(values):
            raise BacktestError(f"grid values of {name!r} must be a non-empty list")
    fixed = dict(fixed or {})
    overlap = sorted(set(fixed) & set(grid))
    if overlap:
        raise BacktestError(f"parameter(s) both fixed and in the grid: {', '.join(overlap)}")
    try:
        config = EngineConfig(capital=capital, commission=commission,
                              fixed_commission=fixed_commission, slippage_bps=slippage_bps)
    except EngineError as exc:
        raise BacktestError(str(exc)) from None

    if not isinstance(prices, pd.Series) or not isinstance(prices.index, pd.DatetimeIndex):
        raise BacktestError("prices must be a pandas Series indexed by date")
    history = prices.sort_index()
    if end is not None:
        history = history.loc[: pd.Timestamp(end)]
    n = len(history)
    first_test = train_days
    if start is not None:
        first_test = max(first_test, int(history.index.searchsorted(pd.Timestamp(start))))
    if first_test >= n - 1:
        raise BacktestError(
            f"not enough prices: {n} days up to {history.index[-1].date() if n else end}, but the "
            f"first test window would start at day {first_test + 1} "
            f"(train_days={train_days}, start={start})"
        )

    names = list(grid)
    combos: list[dict[str, Any]] = []
    skipped: list[str] = []
    strategies = []
    for values in itertools.product(*(list(grid[k]) for k in names)):
        params = {**fixed, **dict(zip(names, values))}
        try:
            strategies.append(make_strategy(strategy, **params))
            combos.append(dict(zip(names, values)))
        except StrategyError as exc:
            if "unknown strategy" in str(exc) or "unknown parameter" in str(exc):
                raise
            skipped.append(f"{params}: {exc}")
    if not combos:
        raise StrategyError(f"{strategy}: no valid parameter combination in the grid; "
                            f"{'; '.join(skipped[:3])}")

    test_starts = list(range(first_test, n, test_days))
    total = len(combos) + len(test_starts)
    done = 0
    first_train = history.index[first_test - train_days]
    targets_by_combo = []
    for strat in strategies:
        targets_by_combo.append(strat.positions(history, start=first_train))
        done += 1
        if progress is not None:
            progress(done, total)

    oos_targets = pd.Series(np.nan, index=history.index)
    rows = []
    sign = 1.0 if maximize else -1.0
    for p in test_starts:
        train = slice(p - train_days, p)
        test = slice(p, min(p + test_days, n))
        train_prices = history.iloc[train]
        best_i, best_score = 0, -math.inf
        best_raw = math.nan
        for i, targets in enumerate(targets_by_combo):
            raw = _score(train_prices, targets.iloc[train], config, objective)
            score = sign * raw if math.isfinite(raw) else -math.inf
            if score > best_score:
                best_i, best_score, best_raw = i, score, raw
        chosen = targets_by_combo[best_i]
        oos_targets.iloc[test] = chosen.iloc[test].to_numpy()
        test_prices = history.iloc[test]
        test_return = (
            _score(test_prices, chosen.iloc[test], config, "Return [%]")
            if test_prices.notna().sum() >= 2 and (test_prices > 0).any() else math.nan
        )
        rows.append({
            "train_start": train_prices.index[0],
            "train_end": train_prices.index[-1],
            "test_start": test_prices.index[0],
            "test_end": test_prices.index[-1],
            "params": combos[best_i],
            "train_score": best_raw,
            "test_return_pct": test_return,
        })
        done += 1
        if progress is not None:
            progress(done, total)

    oos_prices = history.iloc[first_test:]
    result = backtest_targets(
        oos_prices,
        oos_targets.iloc[first_test:],
        strategy=f"walk-forward {make_strategy(strategy, **{**fixed, **combos[0]}).name}",
        params={"grid": {k: list(v) for k, v in grid.items()}, "fixed": fixed,
                "train_days": train_days, "test_days": test_days, "objective": objective,
                "maximize": maximize},
        config=config,
        info={"windows": len(rows), "chosen": [r["params"] for r in rows]},
        store=store,
    )
    return WalkForwardResult(
        result=result,
        windows=pd.DataFrame(rows),
        objective=objective,
        grid={k: list(v) for k, v in grid.items()},
        skipped=skipped,
    )
