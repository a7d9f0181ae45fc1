"""Strategies: signals by hand, parameter validation, walk-forward schedule, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_nb.backtest.strategies import (
    STRATEGY_NAMES,
    ForecastStrategy,
    StrategyError,
    make_strategy,
)


def series(values, start: str = "2020-01-01", name: str = "WTI") -> pd.Series:
    index = pd.bdate_range(start, periods=len(values), name="date")
    return pd.Series(np.asarray(values, dtype=float), index=index, name=name)


def random_prices(n: int, seed: int = 0, trend: float = 0.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    return series(50 * np.exp(np.cumsum(rng.normal(trend, 0.02, n))))


def test_registry_names() -> None:
    assert set(STRATEGY_NAMES) == {"buy-and-hold", "sma-cross", "mean-reversion", "forecast",
                                   "forecast-band"}
    assert make_strategy("SMA_Cross", fast=2, slow=3).name == "sma-cross"
    desc = make_strategy("forecast").describe()
    assert desc["walk_forward"] and {p["name"] for p in desc["params"]} >= {"model", "horizon"}


def test_sma_cross_by_hand() -> None:
    prices = series([1, 2, 3, 4, 3, 2, 1, 1])
    pos = make_strategy("sma-cross", fast=1, slow=3).positions(prices)
    # sma3: -, -, 2, 3, 3.33, 3, 2, 1.33 ; price vs sma3: +, +, -, -, -, -
    assert pos.tolist() == [0, 0, 1, 1, -1, -1, -1, -1]
    flat = make_strategy("sma-cross", fast=1, slow=3, short=False).positions(prices)
    assert flat.tolist() == [0, 0, 1, 1, 0, 0, 0, 0]


def test_mean_reversion_by_hand() -> None:
    prices = series([10, 10.2, 9.8, 10, 10.1, 6, 8, 10, 10.1, 10, 14, 12, 10.1, 10, 10, 10])
    # z over 5 days (ddof=1), from day 4:
    #  0.539 -1.783 -0.439 0.653 0.691 0.653 1.637 0.44 -0.649 -0.688 -0.688 -0.475
    # day 5: z < -1.5 -> long; day 6: -0.439 < -0.2 stays long; day 7: 0.653 >= -0.2 -> flat;
    # day 10: 1.637 > 1.5 -> short; day 11: 0.44 > 0.2 stays short; day 12: -0.649 <= 0.2 -> flat
    strat = make_strategy("mean-reversion", window=5, entry_z=1.5, exit_z=0.2)
    assert strat.positions(prices).tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, -1, -1, 0, 0, 0, 0]
    long_only = make_strategy("mean-reversion", window=5, entry_z=1.5, exit_z=0.2, short=False)
    assert long_only.positions(prices).tolist() == [0] * 5 + [1, 1] + [0] * 9


def test_buy_and_hold() -> None:
    assert make_strategy("buy-and-hold").positions(series([1, 2, 3])).tolist() == [1, 1, 1]


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nope", {}, "unknown strategy 'nope'; known: buy-and-hold"),
        ("sma-cross", {"fast": 40, "slow": 10}, r"fast \(40\) must be smaller than slow \(10\)"),
        ("sma-cross", {"fast": 2.5}, "'fast' must be a whole number"),
        ("sma-cross", {"fast": 0}, "'fast' must be >= 1"),
        ("sma-cross", {"speed": 3}, "unknown parameter.*speed.*valid: fast, slow, short"),
        ("sma-cross", {"short": "yes"}, "'short' must be true or false"),
        ("mean-reversion", {"entry_z": 1, "exit_z": 2}, "exit_z .* must be smaller than entry_z"),
        ("forecast", {"model": "magic"}, "unknown model 'magic'"),
        ("forecast", {"horizon": 0}, "'horizon' must be >= 1"),
        ("forecast", {"threshold": -0.1}, "'threshold' must be >= 0"),
        ("forecast", {"model_params": {"bogus": 1}}, "model parameters: .*bogus"),
        ("forecast-band", {"level": 100}, "'level' must be <= 99"),
        ("forecast-band", {"threshold": 0.1}, "unknown parameter.*threshold"),
    ],
)
def test_invalid_parameters_name_the_problem(name: str, params: dict, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        make_strategy(name, **params)


def test_forecast_strategy_signals_follow_the_forecast_return() -> None:
    # a steady uptrend: the drift model forecasts a rise -> long; threshold too high -> flat
    prices = series(np.linspace(50, 60, 80))
    long_ = make_strategy("forecast", model="drift", horizon=5, min_history=40)
    pos = long_.positions(prices)
    assert (pos.iloc[:39] == 0).all() and (pos.iloc[39:] == 1).all()
    high = make_strategy("forecast", model="drift", horizon=5, min_history=40, threshold=0.5)
    assert (high.positions(prices) == 0).all()
    down = series(np.linspace(60, 50, 80))
    assert (make_strategy("forecast", model="drift", min_history=40).positions(down).iloc[39:]
            == -1).all()
    no_short = make_strategy("forecast", model="drift", min_history=40, short=False)
    assert (no_short.positions(down) == 0).all()
    # a random walk forecasts no change: never trades
    rw = make_strategy("forecast", model="random_walk", min_history=40)
    assert (rw.positions(random_prices(80)) == 0).all()


def test_forecast_walk_forward_schedule_and_progress() -> None:
    prices = random_prices(120)
    calls: list[tuple[int, int]] = []
    strat = make_strategy("forecast", model="drift", min_history=50, refit_every=10,
                          rebalance_every=2)
    strat.positions(prices, start=prices.index[60], progress=lambda d, t: calls.append((d, t)))
    # rebalance days 60, 62, ..., 118 -> 30 forecasts; a refit every 10 trading days -> 6 fits
    assert calls[-1] == (30, 30) and len(calls) == 30
    assert strat.info["forecasts"] == 30 and strat.info["refits"] == 6


def test_forecast_band_trades_only_outside_the_interval() -> None:
    up = series(50 * np.exp(np.linspace(0, 0.6, 150)))  # strong, noiseless uptrend
    band = make_strategy("forecast-band", model="drift", min_history=60, level=80, horizon=10)
    pos = band.positions(up)
    assert (pos.iloc[70:] == 1).all()
    rw = make_strategy("forecast-band", model="random_walk", min_history=60)
    assert (rw.positions(random_prices(150)) == 0).all()


class _Spy(ForecastStrategy):
    """Records the last date of every series a model gets (to prove no look-ahead)."""

    name = "forecast"

    def _positions(self, prices, start, progress):
        from energy_nb import models

        seen: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        original = models.make_model

        def spying_make_model(name, **params):
            model = original(name, **params)
            fit, update = model.fit, model.update

            def fit_spy(y):
                seen.append(("fit", y.index[-1]))
                self.firsts.append(y.index[0])
                return fit(y)

            def update_spy(y):
                seen.append(("update", y.index[-1]))
                self.firsts.append(y.index[0])
                return update(y)

            model.fit, model.update = fit_spy, update_spy
            return model

        self.firsts: list[pd.Timestamp] = []
        models.make_model = spying_make_model
        try:
            out = super()._positions(prices, start, progress)
        finally:
            models.make_model = original
        self.seen = seen
        return out


def test_each_forecast_sees_only_data_up_to_its_date() -> None:
    prices = random_prices(100)
    spy = _Spy(model="drift", min_history=60, refit_every=5)
    spy.positions(prices)
    days = prices.index[59:]
    assert [d for _, d in spy.seen] == list(days)
    assert [k for k, _ in spy.seen][:6] == ["fit", "update", "update", "update", "update", "fit"]
    assert set(spy.firsts) == {prices.index[0]}


def test_train_window_is_anchored_at_each_refit() -> None:
    prices = random_prices(100)
    spy = _Spy(model="drift", min_history=60, refit_every=5, train_window=40)
    spy.positions(prices)
    days = list(prices.index[59:])
    assert [d for _, d in spy.seen] == days
    # refit at day 59 on days 20..59, updated through day 63 from the same start; refit at 64 ...
    for i, (kind, last) in enumerate(spy.seen):
        t = 59 + i
        anchor = 59 + 5 * (i // 5)
        assert kind == ("fit" if t == anchor else "update")
        assert spy.firsts[i] == prices.index[anchor + 1 - 40]


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("sma-cross", {"fast": 3, "slow": 8}),
        ("mean-reversion", {"window": 10, "entry_z": 1.0, "exit_z": 0.2}),
        ("forecast", {"model": "drift", "min_history": 40, "refit_every": 7, "model_params":
                      {"window": 20}}),
        ("forecast-band", {"model": "drift", "min_history": 40, "level": 50,
                           "model_params": {"window": 20}}),
    ],
)
def test_changing_future_prices_leaves_past_positions_identical(name: str, params: dict) -> None:
    prices = random_prices(90, seed=3, trend=0.01 if name == "forecast-band" else 0.0)
    base = make_strategy(name, **params).positions(prices)
    assert base.abs().sum() > 0  # the strategy does trade in this case
    for k in (45, 70, 89):
        changed = prices.copy()
        changed.iloc[k:] = changed.iloc[k:] * 1.7 + 5
        changed.iloc[k + 1: k + 3] = np.nan
        other = make_strategy(name, **params).positions(changed)
        pd.testing.assert_series_equal(base.iloc[:k], other.iloc[:k])


def test_a_model_failing_unexpectedly_is_reported_with_the_date() -> None:
    class Broken(ForecastStrategy):
        name = "forecast"

        def _positions(self, prices, start, progress):
            from energy_nb import models

            original = models.make_model

            def make_broken(name, **params):
                model = original(name, **params)

                def predict(*args, **kwargs):
                    raise ValueError("min() arg is an empty sequence")

                model.predict = predict
                return model

            models.make_model = make_broken
            try:
                return super()._positions(prices, start, progress)
            finally:
                models.make_model = original

    with pytest.raises(StrategyError, match=r"model 'drift' failed on 2020-02-25 \(ValueError"):
        Broken(model="drift", min_history=40).positions(random_prices(60))


def test_models_without_enough_data_leave_the_day_flat() -> None:
    from energy_nb.models import model_class

    need = model_class("gbm").min_observations  # more than min_history=30 gives it
    assert need > 31
    strat = make_strategy("forecast", model="gbm", min_history=30)
    pos = strat.positions(random_prices(need - 1))
    assert (pos == 0).all()
    # forecasts from day 29 to the last day all lack data: each is skipped and reported
    assert strat.info["n_skipped"] == need - 30 and "need at least" in strat.info["skipped"][0]


def test_tqdm_progress_callback_draws_a_bar() -> None:
    import io

    from energy_nb.backtest.progress import tqdm_progress

    stream = io.StringIO()
    strat = make_strategy("forecast", model="drift", min_history=50)
    with tqdm_progress("wf test", file=stream) as progress:
        strat.positions(random_prices(70), progress=progress)
    # the 50th price is day 49: forecasts on days 49..69
    assert "wf test" in stream.getvalue() and "21/21" in stream.getvalue()
