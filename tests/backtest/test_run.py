"""run_backtest: result object, storage in the real SQLite store, errors, real data quirks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from energy_nb.backtest import (
    STAT_NAMES,
    BacktestError,
    StrategyError,
    list_backtests,
    load_backtest,
    run_backtest,
)
from energy_nb.backtest.run import equity_frame_from_records, trades_frame_from_records
from energy_nb.data.store import PriceStore
from energy_nb.data.validation import read_price_csv


def prices(n: int = 300, seed: int = 1, name: str = "BRENT") -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2019-01-01", periods=n, name="date")
    return pd.Series(60 * np.exp(np.cumsum(rng.normal(0, 0.02, n))), index=index, name=name)


def test_result_has_stats_trades_equity_and_is_json_safe() -> None:
    p = prices()
    r = run_backtest(p, "sma-cross", {"fast": 5, "slow": 20}, capital=50_000, commission=0.001,
                     slippage_bps=3, start="2019-03-01", end="2019-12-31")
    assert list(r.stats) == list(STAT_NAMES)
    assert r.start == pd.Timestamp("2019-03-01") and r.end == pd.Timestamp("2019-12-31")
    assert list(r.equity.columns) == ["Price", "Position", "Cash", "Equity", "BuyHold",
                                      "DrawdownPct", "BuyHoldDrawdownPct"]
    eq = r.equity
    assert eq["Equity"].iloc[0] == 50_000 and eq["BuyHold"].iloc[0] == 50_000
    # buy & hold = capital invested at the first price, no costs
    assert eq["BuyHold"].iloc[-1] == pytest.approx(
        50_000 * p.loc["2019-12-31"] / p.loc["2019-03-01"])
    assert (eq["DrawdownPct"] >= 0).all() and eq["DrawdownPct"].max() > 0
    # the strategy had history before start: it is in the market from the start's signal on
    assert r.trades["EntryTime"].iloc[0] == pd.Timestamp("2019-03-04")
    assert r.stats["# Trades"] == len(r.trades) > 2
    payload = r.to_dict()
    text = json.dumps(payload, allow_nan=False)
    back = json.loads(text)
    assert set(back["stats"]) == set(STAT_NAMES)
    assert len(back["equity"]) == len(eq) and back["equity"][0]["date"] == "2019-03-01"
    assert back["trades"][0]["EntryTime"] == "2019-03-04"
    assert back["params"] == {"fast": 5, "slow": 20, "short": True}
    rebuilt = trades_frame_from_records(back["trades"])
    pd.testing.assert_series_equal(rebuilt["PnL"], r.trades["PnL"])
    pd.testing.assert_series_equal(rebuilt["Duration"], r.trades["Duration"])
    pd.testing.assert_frame_equal(equity_frame_from_records(back["equity"]), eq,
                                  check_freq=False)


def test_runs_are_stored_and_listed_newest_first(store_url: str) -> None:
    store = PriceStore(store_url)
    p = prices()
    first = run_backtest(p, "buy-and-hold", store=store)
    second = run_backtest(p, "mean-reversion", {"window": 10}, commission=0.002, store=store)
    assert first.run_id is not None and second.run_id == first.run_id + 1
    runs = list_backtests(store, limit=5)
    assert [r["id"] for r in runs] == [second.run_id, first.run_id]
    assert runs[0]["strategy"] == "mean-reversion" and runs[0]["config"]["commission"] == 0.002
    assert runs[0]["params"]["window"] == 10 and "equity" not in runs[0]
    assert list_backtests(store, commodity="WTI") == []
    loaded = load_backtest(store, second.run_id)
    assert loaded["stats"] == json.loads(json.dumps(second.to_dict()["stats"]))
    assert len(loaded["equity"]) == len(second.equity)
    with pytest.raises(BacktestError, match="no stored backtest with id 999"):
        load_backtest(store, 999)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"start": "2019-06-01", "end": "2019-05-01"}, BacktestError, "must be before end"),
        ({"start": "2030-01-01"}, BacktestError, "fewer than 2 prices between 2030-01-01"),
        ({"capital": -5}, BacktestError, "capital must be > 0"),
        ({"strategy": "sma-cross", "params": {"fast": 50, "slow": 20}}, StrategyError,
         "fast .* must be smaller"),
        ({"start": "not a date"}, BacktestError, "invalid date"),
    ],
)
def test_errors_are_clear(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        run_backtest(prices(), **kwargs)


def test_real_wti_through_the_negative_price(eia_dir, store_url: str) -> None:
    store = PriceStore(store_url)
    store.import_series(read_price_csv(eia_dir / "wti-daily.csv", commodity="WTI"))
    wti = store.load("WTI", start="2019-06-01", end="2020-12-31")
    r = run_backtest(wti, "buy-and-hold", start="2020-01-01", end="2020-12-31", store=store,
                     commission=0.0)
    eq = r.equity
    # held through 2020-04-20 (-36.98): marked at the last positive price, no ruin
    assert eq.loc["2020-04-20", "Price"] == -36.98
    assert eq.loc["2020-04-20", "Equity"] == pytest.approx(eq.loc["2020-04-17", "Equity"])
    assert r.info["ruined_at"] is None
    first, last = wti.loc["2020-01-02"], wti.loc["2020-12-31"]
    assert r.stats["Buy & Hold Return [%]"] == pytest.approx((last / first - 1) * 100)
    # bought on the second day at its price, open at the end
    assert r.stats["Return [%]"] == pytest.approx((last / wti.loc["2020-01-03"] - 1) * 100)
    assert r.trades["IsOpen"].tolist() == [True]
    assert load_backtest(store, r.run_id)["info"]["data_version"].startswith("WTI@")
