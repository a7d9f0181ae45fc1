"""Backtesting: a vectorised daily engine, pluggable strategies, statistics and optimisation.

Usage::

    from energy_nb.backtest import run_backtest
    result = run_backtest(store.load("BRENT"), "sma-cross", {"fast": 10, "slow": 40},
                          capital=100_000, commission=0.001)
    result.stats["Return [%]"], result.trades.head(), result.equity.tail()

Timing rule: a target decided with data up to day ``t`` is executed at day ``t + 1``'s price
(see :mod:`energy_nb.backtest.engine` and ``docs/backtest.md``).
"""

from __future__ import annotations

from energy_nb.backtest.engine import EngineConfig, EngineError, EngineResult, simulate
from energy_nb.backtest.run import (
    BacktestError,
    BacktestResult,
    list_backtests,
    load_backtest,
    run_backtest,
    save_backtest,
)
from energy_nb.backtest.stats import STAT_NAMES, compute_stats
from energy_nb.backtest.strategies import (
    STRATEGIES,
    STRATEGY_NAMES,
    Strategy,
    StrategyError,
    make_strategy,
)

__all__ = [
    "STAT_NAMES",
    "STRATEGIES",
    "STRATEGY_NAMES",
    "BacktestError",
    "BacktestResult",
    "EngineConfig",
    "EngineError",
    "EngineResult",
    "Strategy",
    "StrategyError",
    "compute_stats",
    "list_backtests",
    "load_backtest",
    "make_strategy",
    "run_backtest",
    "save_backtest",
    "simulate",
]
