"""Statistics: a hand-computed case for every number, and the empty-trades edge case."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from energy_nb.backtest.engine import EngineConfig, simulate
from energy_nb.backtest.stats import (
    STAT_NAMES,
    compute_stats,
    geometric_mean,
    stats_to_jsonable,
)


def series(values: list[float]) -> pd.Series:
    index = pd.bdate_range("2024-01-01", periods=len(values), name="date")
    return pd.Series(values, index=index, name="BRENT", dtype=float)


def test_every_statistic_by_hand() -> None:
    # buy 10 units at 100 on day 1, equity 1000, 1100, 990, sell at 99 on day 4 -> 990
    r = simulate(series([100, 100, 110, 99, 99]), [1, 1, 1, 0, 0], EngineConfig(capital=1000))
    assert r.equity.tolist() == pytest.approx([1000, 1000, 1100, 990, 990])
    s = compute_stats(r)
    assert list(s) == list(STAT_NAMES)
    assert s["Start"] == pd.Timestamp("2024-01-01") and s["End"] == pd.Timestamp("2024-01-05")
    assert s["Duration"] == pd.Timedelta(days=4)
    assert s["Exposure Time [%]"] == pytest.approx(60.0)  # held at 3 of 5 closes
    assert s["Equity Final [$]"] == pytest.approx(990)
    assert s["Equity Peak [$]"] == pytest.approx(1100)
    assert s["Commissions [$]"] == 0
    assert s["Return [%]"] == pytest.approx(-1.0)
    assert s["Buy & Hold Return [%]"] == pytest.approx(-1.0)
    day = np.array([0.0, 0.1, -0.1, 0.0])
    g = 0.99 ** 0.25 - 1
    ann = (1 + g) ** 252 - 1
    assert s["Return (Ann.) [%]"] == pytest.approx(ann * 100)
    var = day.var(ddof=1)
    vol = math.sqrt((var + (1 + g) ** 2) ** 252 - (1 + g) ** 504)
    assert s["Volatility (Ann.) [%]"] == pytest.approx(vol * 100)
    assert s["CAGR [%]"] == pytest.approx((0.99 ** (365.25 / 4) - 1) * 100)
    assert s["Sharpe Ratio"] == pytest.approx(ann / vol)
    assert s["Sortino Ratio"] == pytest.approx(ann / (math.sqrt(0.01 / 4) * math.sqrt(252)))
    assert s["Calmar Ratio"] == pytest.approx(ann / 0.10)
    assert s["Max. Drawdown [%]"] == pytest.approx(-10.0)
    assert s["Avg. Drawdown [%]"] == pytest.approx(-10.0)
    assert s["Max. Drawdown Duration"] == pd.Timedelta(days=2)  # from the peak (Wed) to the end
    assert s["Avg. Drawdown Duration"] == pd.Timedelta(days=2)
    assert s["# Trades"] == 1
    assert s["Win Rate [%]"] == 0
    assert s["Best Trade [%]"] == pytest.approx(-1.0)
    assert s["Worst Trade [%]"] == pytest.approx(-1.0)
    assert s["Avg. Trade [%]"] == pytest.approx(-1.0)
    assert s["Max. Trade Duration"] == pd.Timedelta(days=3)
    assert s["Avg. Trade Duration"] == pd.Timedelta(days=3)
    assert s["Profit Factor"] == 0
    assert s["Expectancy [%]"] == pytest.approx(-1.0)
    assert math.isnan(s["SQN"])  # one trade has no spread


def test_trade_statistics_over_several_trades() -> None:
    prices = series([100, 100, 110, 110, 110, 99, 99, 90, 99, 99])
    # long day1-day3 100->110, short day4-day6 110->99, long day7-day9 90->99: +10 % each
    targets = [1, 1, 0, -1, -1, 0, 1, 1, 0, 0]
    r = simulate(prices, targets, EngineConfig(capital=1000))
    s = compute_stats(r)
    pnl = r.trades["PnL"].to_numpy()
    ret = r.trades["ReturnPct"].to_numpy()
    assert s["# Trades"] == 3
    assert ret.tolist() == pytest.approx([0.10, 0.10, 0.10])
    assert s["Win Rate [%]"] == 100
    assert math.isnan(s["Profit Factor"])  # no losing trade: undefined, as in backtesting.py
    assert s["Avg. Trade [%]"] == pytest.approx(10.0)
    assert s["SQN"] == pytest.approx(math.sqrt(3) * pnl.mean() / pnl.std(ddof=1))
    assert s["Equity Final [$]"] == pytest.approx(1000 * 1.1 ** 3)


def test_without_trades_trade_statistics_are_undefined_and_json_safe() -> None:
    r = simulate(series([10, 11, 12]), [0, 0, 0])
    s = compute_stats(r)
    assert s["# Trades"] == 0 and s["Return [%]"] == 0
    assert math.isnan(s["Win Rate [%]"]) and s["Max. Trade Duration"] is pd.NaT
    assert math.isnan(s["Sharpe Ratio"])  # zero volatility
    js = stats_to_jsonable(s)
    text = json.dumps(js, allow_nan=False)
    assert json.loads(text)["Win Rate [%]"] is None
    assert js["Start"] == "2024-01-01" and js["Duration"] == "2 days 00:00:00"


def test_geometric_mean() -> None:
    assert geometric_mean([0.1, -0.1]) == pytest.approx(math.sqrt(0.99) - 1)
    assert math.isnan(geometric_mean([0.5, -1.0]))
    assert math.isnan(geometric_mean([]))
