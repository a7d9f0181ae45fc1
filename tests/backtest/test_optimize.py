"""Walk-forward optimisation: choices match independent backtests.

Out-of-sample results only, and no look-ahead.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from energy_nb.backtest import (
    BacktestError,
    StrategyError,
    list_backtests,
    run_backtest,
)
from energy_nb.backtest.optimize import walk_forward_optimize
from energy_nb.data.store import PriceStore

GRID = {"fast": [3, 5, 10], "slow": [20, 40]}


def prices(n: int = 620, seed: int = 7) -> pd.Series:
    rng = np.random.default_rng(seed)
    # regimes: trending stretches make different windows prefer different parameters
    drift = np.repeat(rng.choice([-0.004, 0.0, 0.004], size=n // 60 + 1), 60)[:n]
    index = pd.bdate_range("2015-01-01", periods=n, name="date")
    return pd.Series(40 * np.exp(np.cumsum(drift + rng.normal(0, 0.015, n))), index=index,
                     name="WTI")


def test_each_window_picks_the_best_training_result_and_trades_the_next() -> None:
    p = prices()
    wf = walk_forward_optimize(p, "sma-cross", GRID, train_days=200, test_days=100,
                               objective="Sharpe Ratio", commission=0.0005)
    w = wf.windows
    assert len(w) == 5  # test windows start at days 200, 300, 400, 500, 600
    assert list(w["test_start"]) == list(p.index[[200, 300, 400, 500, 600]])
    assert (w["train_end"] < w["test_start"]).all()
    assert list(w["train_start"]) == list(p.index[[0, 100, 200, 300, 400]])
    for row in w.itertuples():
        scores = {}
        for fast in GRID["fast"]:
            for slow in GRID["slow"]:
                r = run_backtest(p.loc[: row.train_end], "sma-cross", {"fast": fast, "slow": slow},
                                 commission=0.0005, start=row.train_start)
                scores[(fast, slow)] = r.stats["Sharpe Ratio"]
        best = max(scores, key=lambda k: scores[k])
        assert (row.params["fast"], row.params["slow"]) == best
        assert row.train_score == pytest.approx(scores[best])
    assert len({(d["fast"], d["slow"]) for d in w["params"]}) > 1  # the choice does change
    # only the out-of-sample period is reported
    eq = wf.result.equity
    assert eq.index[0] == p.index[200] and eq.index[-1] == p.index[-1]
    assert wf.result.stats["Start"] == p.index[200]
    payload = json.loads(json.dumps(wf.to_dict(), allow_nan=False))
    assert len(payload["windows"]) == 5 and payload["objective"] == "Sharpe Ratio"


def test_out_of_sample_positions_follow_the_chosen_params() -> None:
    p = prices()
    wf = walk_forward_optimize(p, "sma-cross", GRID, train_days=200, test_days=100,
                               objective="Return [%]")
    units = wf.result.equity["Position"]
    for row in wf.windows.itertuples():
        expected = run_backtest(p, "sma-cross", row.params).equity["Position"]
        # inside a test window (after its first day's fill) the side matches the chosen params
        days = units.loc[row.test_start: row.test_end].index[2:]
        assert (np.sign(units.loc[days]) == np.sign(expected.loc[days])).all()


def test_changing_later_prices_leaves_earlier_choices_unchanged() -> None:
    p = prices()
    a = walk_forward_optimize(p, "sma-cross", GRID, train_days=200, test_days=100)
    changed = p.copy()
    changed.iloc[400:] = changed.iloc[400:][::-1].to_numpy() * 1.3
    b = walk_forward_optimize(changed, "sma-cross", GRID, train_days=200, test_days=100)
    # windows whose training ends before day 400 choose the same parameters
    assert list(a.windows["params"][:3]) == list(b.windows["params"][:3])
    pd.testing.assert_series_equal(a.result.equity["Equity"].iloc[:200],
                                   b.result.equity["Equity"].iloc[:200])


def test_invalid_combinations_are_skipped_and_runs_stored(store_url: str) -> None:
    store = PriceStore(store_url)
    wf = walk_forward_optimize(prices(), "sma-cross", {"fast": [5, 30], "slow": [20]},
                               train_days=200, test_days=200, store=store)
    assert len(wf.skipped) == 1 and "must be smaller" in wf.skipped[0]
    assert all(d == {"fast": 5, "slow": 20} for d in wf.windows["params"])
    stored = list_backtests(store)
    assert stored[0]["strategy"] == "walk-forward sma-cross"
    assert stored[0]["params"]["objective"] == "Sharpe Ratio"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"objective": "Luck"}, BacktestError, "unknown objective 'Luck'"),
        ({"train_days": 5}, BacktestError, "train_days must be >= 20"),
        ({"test_days": 0}, BacktestError, "test_days must be >= 1"),
        ({"train_days": 700}, BacktestError, "not enough prices"),
        ({"grid": {"fast": [50], "slow": [20]}}, StrategyError, "no valid parameter combination"),
        ({"grid": {"speed": [1]}}, StrategyError, "unknown parameter"),
        ({"grid": {"fast": []}}, BacktestError, "non-empty list"),
        ({"grid": GRID, "fixed": {"fast": 3}}, BacktestError, "both fixed and in the grid"),
    ],
)
def test_errors(kwargs: dict, error: type, message: str) -> None:
    args = {"grid": GRID, "train_days": 200, "test_days": 100, **kwargs}
    grid = args.pop("grid")
    with pytest.raises(error, match=message):
        walk_forward_optimize(prices(), "sma-cross", grid, **args)
