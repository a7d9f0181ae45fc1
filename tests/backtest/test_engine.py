"""Engine: hand-computed cases to the cent, invariants, properties.

The property tests compare the engine against the loop reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_nb.backtest.stats import compute_stats
from energy_nb.backtest.engine import EngineConfig, EngineError, simulate
from energy_nb.backtest.reference import simulate_loop


def series(values: list[float], start: str = "2024-01-01") -> pd.Series:
    index = pd.bdate_range(start, periods=len(values), name="date")
    return pd.Series(values, index=index, name="WTI", dtype=float)


CENT = 0.005


def test_three_trades_with_commission_and_slippage_to_the_cent() -> None:
    # capital 10,000; commission 0.1 % of traded value + $1 per order; slippage 10 bp.
    prices = series([100, 100, 110, 120, 100, 80, 100, 100])
    targets = [1, 1, 0, -1, -1, 1, 0, 0]
    cfg = EngineConfig(capital=10_000, commission=0.001, fixed_commission=1, slippage_bps=10)
    r = simulate(prices, targets, cfg)

    # day 1 buys 10,000/100 = 100 units at 100.10; commission 0.001*100*100.10 + 1 = 11.01
    # cash = 10,000 - 10,010 - 11.01 = -21.01
    # day 3 sells 100 at 119.88; commission 0.001*100*119.88 + 1 = 12.988
    # cash = -21.01 + 11,988 - 12.988 = 11,954.002
    # day 4 shorts 11,954.002/100 = 119.54002 units at 99.90; commission 12.942048
    # cash = 11,954.002 + 11,942.047998 - 12.942048 = 23,883.10795
    # day 6 flips: equity 23,883.10795 - 119.54002*100 = 11,929.10595 -> long 119.2910595;
    #   buys 238.8310795 at 100.10; commission 0.001*238.8310795*100.10 + 1 = 24.9069911
    #   cash = 23,883.10795 - 23,907.091058 - 24.9069911 = -48.7900991
    # day 7 sells 119.2910595 at 99.90; commission 12.9172104; cash = 11,855.4696
    expected_cash = [10_000.00, -21.01, -21.01, 11_954.00, 23_883.11, 23_883.11, -48.79, 11_855.47]
    expected_equity = [10_000.00, 9_978.99, 10_978.99, 11_954.00, 11_929.11, 14_319.91,
                       11_880.32, 11_855.47]
    assert r.cash.to_numpy() == pytest.approx(expected_cash, abs=CENT)
    assert r.equity.to_numpy() == pytest.approx(expected_equity, abs=CENT)
    assert r.units.to_numpy() == pytest.approx(
        [0, 100, 100, 0, -119.54002, -119.54002, 119.2910595, 0], abs=1e-6
    )
    assert r.orders == 5  # buy, sell, short, flip (one order), sell
    assert r.commissions == pytest.approx(11.01 + 12.988 + 12.942048 + 24.9069911 + 12.9172104,
                                          abs=CENT)

    t = r.trades
    assert list(t["Side"]) == ["long", "short", "long"]
    assert list(t["EntryTime"].dt.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-05",
                                                            "2024-01-09"]
    assert list(t["ExitTime"].dt.strftime("%Y-%m-%d")) == ["2024-01-04", "2024-01-09",
                                                           "2024-01-10"]
    assert t["EntryPrice"].tolist() == pytest.approx([100.10, 99.90, 100.10])
    assert t["ExitPrice"].tolist() == pytest.approx([119.88, 100.10, 99.90])
    # trade 1: 100 * (119.88 - 100.10) - (11.01 + 12.988) = 1,954.00
    # trade 2: 119.54002 * (99.90 - 100.10) - (12.942048 + 24.9069911 * 119.54002/238.8310795)
    #        = -23.908004 - 25.408525 = -49.32
    # trade 3: 119.2910595 * (99.90 - 100.10) - (24.9069911 * 119.2910595/238.8310795
    #        + 12.9172104) = -23.8582119 - 25.3576915 = -49.22
    assert t["PnL"].tolist() == pytest.approx([1954.00, -49.32, -49.22], abs=CENT)
    assert t["ReturnPct"].tolist() == pytest.approx(
        [1954.002 / 10_010, -49.316529 / (119.54002 * 99.9), -49.215903 / (119.2910595 * 100.1)],
        rel=1e-6,
    )
    assert t["Commission"].tolist() == pytest.approx([24.00, 25.41, 25.36], abs=CENT)
    assert t["Slippage"].tolist() == pytest.approx([10 + 12, 23.91, 23.86], abs=CENT)
    assert t["Costs"].tolist() == pytest.approx((t["Commission"] + t["Slippage"]).tolist())
    assert t["Duration"].dt.days.tolist() == [2, 4, 1]
    assert t["DurationBars"].tolist() == [2, 2, 1]
    assert not t["IsOpen"].any()
    assert 10_000 + t["PnL"].sum() == pytest.approx(r.equity.iloc[-1], abs=1e-9)


def test_orders_wait_for_a_valid_positive_price() -> None:
    # the target decided on day 0 cannot fill on day 1 (NaN) nor day 2 (-5): it fills on day 3
    prices = series([50, np.nan, -5, 40, 44])
    r = simulate(prices, [1, 1, 1, 0, 0], EngineConfig(capital=1000))
    assert r.units.tolist() == [0, 0, 0, 25, 0]
    assert r.equity.tolist() == pytest.approx([1000, 1000, 1000, 1000, 1100])
    assert len(r.trades) == 1
    assert r.trades["EntryPrice"].iloc[0] == 40 and r.trades["ExitPrice"].iloc[0] == 44


def test_nan_and_non_positive_prices_are_marked_at_the_last_positive_price() -> None:
    prices = series([10, 10, np.nan, 20, -36.98, 0, 10, 10])
    r = simulate(prices, [1, 1, 1, 1, 1, 1, 0, 0], EngineConfig(capital=1000))
    # 100 units from day 1; the NaN day keeps 10; -36.98 and 0 keep 20; sold on day 7 at 10
    assert r.mark.tolist() == [10, 10, 10, 20, 20, 20, 10, 10]
    assert r.equity.tolist() == pytest.approx([1000, 1000, 1000, 2000, 2000, 2000, 1000, 1000])
    assert r.ruined_at is None
    assert r.price.iloc[4] == -36.98  # the raw print stays visible


def test_short_losing_all_equity_is_ruined_and_the_backtest_stops() -> None:
    # short 100 units at 10 (cash 2000); at 25 equity would be 2000 - 2500 = -500: ruined.
    # The account is closed at the stop-out price 20 (equity exactly 0) and stays at 0.
    prices = series([10, 10, 15, 25, 30, 20, 20])
    r = simulate(prices, [-1, -1, -1, -1, -1, -1, -1], EngineConfig(capital=1000))
    assert r.ruined_at == prices.index[3]
    assert r.equity.iloc[3:].tolist() == [0, 0, 0, 0]
    assert (r.equity >= 0).all() and (r.units.iloc[3:] == 0).all()
    assert len(r.trades) == 1 and r.trades["ExitPrice"].iloc[0] == pytest.approx(20)
    assert r.trades["PnL"].sum() == pytest.approx(-1000)  # capital + PnL = final equity
    stats = compute_stats(r)
    assert stats["Return [%]"] == pytest.approx(-100)
    assert stats["Max. Drawdown [%]"] == pytest.approx(-100)
    assert stats["Equity Final [$]"] == 0


def test_ruin_stops_new_positions() -> None:
    prices = series([10, 10, 21, 10, 10, 12])
    r = simulate(prices, [-1, -1, 1, 1, 1, 1], EngineConfig(capital=1000))
    assert r.ruined_at == prices.index[2]
    assert (r.units.iloc[3:] == 0).all()
    assert len(r.trades) == 1


def test_open_trade_at_end_is_valued_at_last_price() -> None:
    prices = series([10, 10, 12, np.nan])
    r = simulate(prices, [1, 1, 1, 1], EngineConfig(capital=1000, commission=0.01))
    t = r.trades.iloc[0]
    assert bool(t["IsOpen"]) and t["ExitPrice"] == 12
    assert t["PnL"] == pytest.approx(r.equity.iloc[-1] - 1000)


def test_flat_without_costs_keeps_equity_constant() -> None:
    prices = series(list(np.linspace(50, 80, 30)))
    r = simulate(prices, np.zeros(30), EngineConfig(capital=12_345, commission=0.01))
    assert (r.equity == 12_345).all()
    assert r.trades.empty and r.orders == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capital": 0}, "capital must be > 0"),
        ({"commission": -0.1}, "commission must be in"),
        ({"fixed_commission": float("nan")}, "fixed_commission"),
        ({"slippage_bps": "5"}, "slippage_bps must be a number"),
    ],
)
def test_config_errors_name_the_setting(kwargs: dict, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        EngineConfig(**kwargs)


def test_target_errors() -> None:
    prices = series([1, 2, 3])
    with pytest.raises(EngineError, match=r"in \[-1, 1\].*2024-01-02"):
        simulate(prices, [0, 1.5, 0])
    with pytest.raises(EngineError, match="short positions are off"):
        simulate(prices, [0, -1, 0], EngineConfig(allow_short=False))
    with pytest.raises(EngineError, match="3 values"):
        simulate(prices, [0, 1])
    with pytest.raises(EngineError, match="finite"):
        simulate(prices, [0, np.nan, 0])
    with pytest.raises(EngineError, match="DatetimeIndex"):
        simulate(pd.Series([1.0, 2.0]), [0, 0])
    with pytest.raises(EngineError, match="no positive value"):
        simulate(series([np.nan, -1.0]), [0, 0])


price_values = st.one_of(
    st.floats(min_value=1.0, max_value=200.0),
    st.just(float("nan")),
    st.floats(min_value=-50.0, max_value=0.0),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[pd.Series, np.ndarray, EngineConfig]:
    n = draw(st.integers(min_value=2, max_value=60))
    values = draw(st.lists(st.one_of(st.floats(1.0, 200.0), st.floats(1.0, 200.0), price_values),
                           min_size=n, max_size=n))
    if not any(v > 0 for v in values):
        values[0] = 10.0
    targets = draw(st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.3, 1.0]) | st.floats(-1, 1),
                            min_size=n, max_size=n))
    cfg = EngineConfig(
        capital=draw(st.floats(100.0, 1e6)),
        commission=draw(st.sampled_from([0.0, 0.0005, 0.01])),
        fixed_commission=draw(st.sampled_from([0.0, 1.0])),
        slippage_bps=draw(st.sampled_from([0.0, 5.0, 50.0])),
    )
    return series(values), np.asarray(targets), cfg


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_vectorised_engine_matches_day_by_day_loop(case) -> None:
    prices, targets, cfg = case
    r = simulate(prices, targets, cfg)
    loop = simulate_loop(prices, targets, cfg)
    np.testing.assert_allclose(r.cash.to_numpy(), loop.cash, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(r.units.to_numpy(), loop.units, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(r.equity.to_numpy(), loop.equity, rtol=1e-9, atol=1e-6)
    assert r.commissions == pytest.approx(loop.commissions, rel=1e-9, abs=1e-9)
    # round trips grouped with array operations equal the incrementally booked ones
    a, b = r.trades, loop.trades
    assert len(a) == len(b)
    for col in ("Side", "EntryBar", "ExitBar", "IsOpen", "Duration"):
        assert a[col].tolist() == b[col].tolist(), col
    for col in ("Size", "EntryPrice", "ExitPrice", "PnL", "ReturnPct", "Commission", "Slippage"):
        np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-9, atol=1e-6,
                                   err_msg=col)


@settings(max_examples=80, deadline=None)
@given(scenarios())
def test_accounting_invariants(case) -> None:
    prices, targets, cfg = case
    r = simulate(prices, targets, cfg)
    held = np.where(r.units != 0, r.units * r.mark.fillna(0), 0.0)
    # equity is cash plus position value, every day
    np.testing.assert_allclose(r.equity.to_numpy(), r.cash.to_numpy() + held, atol=1e-6)
    # every dollar gained or lost belongs to a trade; costs add up
    assert cfg.capital + r.trades["PnL"].sum() == pytest.approx(r.equity.iloc[-1], abs=1e-6,
                                                                rel=1e-9)
    assert r.trades["Commission"].sum() == pytest.approx(r.commissions, abs=1e-6, rel=1e-9)
    assert r.trades["Slippage"].sum() == pytest.approx(r.slippage_cost, abs=1e-6, rel=1e-9)
    # nothing happens on the first day, and units change only on fillable days
    assert r.units.iloc[0] == 0
    changed = np.flatnonzero(np.diff(r.units.to_numpy()) != 0) + 1
    assert (prices.iloc[changed] > 0).all()
    # positions are marked at the last positive price only
    assert (r.mark.dropna() > 0).all()
    # trades do not overlap and alternate in time
    if len(r.trades) > 1:
        assert (r.trades["EntryBar"].to_numpy()[1:] >= r.trades["ExitBar"].to_numpy()[:-1]).all()


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.data())
def test_changing_a_future_price_leaves_the_past_unchanged(case, data) -> None:
    prices, targets, cfg = case
    k = data.draw(st.integers(min_value=1, max_value=len(prices) - 1))
    changed = prices.copy()
    changed.iloc[k] = data.draw(st.floats(1.0, 500.0))
    a = simulate(prices, targets, cfg)
    b = simulate(changed, targets, cfg)
    np.testing.assert_array_equal(a.equity.to_numpy()[:k], b.equity.to_numpy()[:k])
    np.testing.assert_array_equal(a.units.to_numpy()[:k], b.units.to_numpy()[:k])


def test_float_dust_target_is_flat_not_a_trade() -> None:
    """Found by hypothesis: a target of 2.2e-16 between shorts opened a dust-sized long whose
    return was float noise; such a target means flat in both engines."""
    index = pd.bdate_range("2024-01-01", periods=12, name="date")
    prices = pd.Series([1.0, 1.0, np.nan, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                       index=index, name="WTI")
    targets = np.full(12, -1.0)
    targets[5] = 2.220446049250313e-16
    cfg = EngineConfig(capital=100.0, commission=0.0005)
    r = simulate(prices, targets, cfg)
    loop = simulate_loop(prices, targets, cfg)
    assert list(r.trades["Side"]) == ["short", "short"]  # short, flat a day, short: no dust long
    np.testing.assert_allclose(r.trades["ReturnPct"].to_numpy(),
                               loop.trades["ReturnPct"].to_numpy(), rtol=1e-9)
    with pytest.raises(EngineError, match="negative on"):
        simulate(prices, -np.abs(targets) * 0 - 1e-3,
                 EngineConfig(capital=100.0, allow_short=False))
    flat_short_off = simulate(prices, np.full(12, -1e-17),
                              EngineConfig(capital=100.0, allow_short=False))
    assert len(flat_short_off.trades) == 0
