"""Model-specific behaviour: statsmodels equivalence, order selection, update, auto's choice."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from model_series import make_prices
from scipy.signal import lfilter

from energy_nb.models import InvalidParameterError, make_model


def _log_prices(y: pd.Series) -> np.ndarray:
    return np.log(y.to_numpy())


def test_theta_matches_statsmodels_forecast() -> None:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = make_prices(n=300, seed=21)
    fc = make_model("theta", window=300).fit(y).predict(horizon=6)
    ref = ThetaModel(_log_prices(y), period=1, deseasonalize=False, use_test=False).fit(
        use_mle=False
    )
    np.testing.assert_allclose(fc.mean, np.exp(ref.forecast(6)), rtol=1e-10)


def test_ets_matches_statsmodels_forecast() -> None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = make_prices(n=300, seed=22)
    fc = make_model("ets", window=300).fit(y).predict(horizon=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ExponentialSmoothing(
            _log_prices(y), trend="add", damped_trend=True, initialization_method="heuristic"
        ).fit()
    np.testing.assert_allclose(fc.mean, np.exp(ref.forecast(6)), rtol=1e-8)


def test_arima_finds_ar_structure_and_forecasts_with_it() -> None:
    rng = np.random.default_rng(3)
    returns = lfilter([1.0], [1.0, -0.6], rng.normal(0, 0.01, 1500))
    y = pd.Series(50 * np.exp(np.cumsum(returns)), name="WTI",
                  index=pd.bdate_range("2015-01-01", periods=1500, name="date"))
    model = make_model("arima", window=1000).fit(y)
    p, d, q = model.order_
    assert d == 1 and p >= 1
    assert abs(model.ar_[0] - 0.6) < 0.15 or q >= 1
    fc = model.predict(horizon=3)
    last_return = np.log(y.iloc[-1] / y.iloc[-2])
    # an AR(1) with phi ~ 0.6 continues the sign of the last return
    assert np.sign(np.log(fc.mean[0] / y.iloc[-1])) == np.sign(last_return)


def test_arima_random_walk_selects_order_zero_on_pure_noise() -> None:
    y = make_prices(n=700, seed=23, vol=0.02)
    model = make_model("arima").fit(y)
    assert model.order_[0] + model.order_[2] <= 1  # AIC rarely adds terms to white noise
    assert model.predict(2).info["order"] == list(model.order_)


@pytest.mark.parametrize("name", ["arima", "ets", "theta", "gbm", "ensemble", "auto"])
def test_update_keeps_parameters_and_matches_extended_filter(name: str) -> None:
    y = make_prices(n=500, seed=24)
    model = make_model(name).fit(y.iloc[:480])
    before = {k: copy_value(v) for k, v in vars(model).items() if k.endswith("_") and
              k in ("order_", "ar_", "ma_", "alpha_", "b0_", "phi_", "choice_")}
    model.update(y)
    for key, value in before.items():
        assert np.array_equal(np.asarray(getattr(model, key), dtype=object),
                              np.asarray(value, dtype=object)), key
    assert model.predict(3).origin == y.index[-1]


def copy_value(value: object) -> object:
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def test_update_with_revised_history_refits() -> None:
    y = make_prices(n=500, seed=25)
    model = make_model("theta").fit(y.iloc[:480])
    revised = y.copy()
    revised.iloc[10] *= 1.5
    model.update(revised)
    fresh = make_model("theta").fit(revised)
    np.testing.assert_allclose(model.predict(5).mean, fresh.predict(5).mean)


def test_auto_falls_back_to_random_walk_on_a_random_walk() -> None:
    y = make_prices(n=600, seed=26)
    fc = make_model("auto", margin=0.2).fit(y).predict(horizon=10)
    assert fc.info["chosen"] == "random_walk"
    assert set(fc.info["chosen_by_step"]) == {"random_walk"}
    assert "random walk" in fc.info["reason"]
    np.testing.assert_allclose(fc.mean, y.iloc[-1])


def test_auto_picks_a_trend_model_on_a_trending_series() -> None:
    n = 700
    rng = np.random.default_rng(27)
    y = pd.Series(20 * np.exp(0.004 * np.arange(n) + np.cumsum(rng.normal(0, 0.004, n))),
                  index=pd.bdate_range("2016-01-01", periods=n, name="date"), name="NG")
    fc = make_model("auto").fit(y).predict(horizon=20)
    assert fc.info["chosen"] != "random_walk"
    assert fc.mean[-1] > y.iloc[-1]
    scores = fc.info["scores"]
    assert scores["random_walk"][0] == 1.0
    assert min(scores[fc.info["chosen"]]) < 0.98


def test_ensemble_is_mean_of_member_paths() -> None:
    y = make_prices(n=400, seed=28)
    members = ("random_walk", "drift", "theta")
    fc = make_model("ensemble", members=members).fit(y).predict(horizon=5)
    logs = [np.log(make_model(m).fit(y).predict(5).mean) for m in members]
    np.testing.assert_allclose(fc.mean, np.exp(np.mean(logs, axis=0)), rtol=1e-10)
    med = make_model("ensemble", members=members, combine="median").fit(y).predict(5)
    np.testing.assert_allclose(med.mean, np.exp(np.median(logs, axis=0)), rtol=1e-10)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("arima", {"max_p": 9}, "max_p"),
        ("arima", {"window": 10}, "window"),
        ("arima", {"allow_mean": "yes"}, "allow_mean"),
        ("ets", {"trend": "mul"}, "trend"),
        ("theta", {"theta": 0.5}, "theta"),
        ("gbm", {"estimator": "xgboost"}, "estimator"),
        ("gbm", {"alpha": -1.0}, "alpha"),
        ("ensemble", {"members": ("arima", "auto")}, "composite"),
        ("ensemble", {"members": ()}, "at least one"),
        ("ensemble", {"combine": "max"}, "combine"),
        ("auto", {"candidates": ("nope",)}, "nope"),
        ("auto", {"margin": 2.0}, "margin"),
        ("random_walk", {"vol_halflife": 0.0}, "vol_halflife"),
    ],
)
def test_bad_params_raise_clear_errors(name: str, params: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        make_model(name, **params)


def test_gbm_direct_steps_and_extension_beyond_max_steps() -> None:
    y = make_prices(n=600, seed=29)
    model = make_model("gbm", max_steps=10).fit(y)
    assert model.steps_ == 10 and model.n_train_ > 100
    fc = model.predict(horizon=15)
    assert fc.mean.shape == (15,) and np.isfinite(fc.mean).all()
    hgb = make_model("gbm", estimator="hgb", max_steps=5, window=300).fit(y).predict(7)
    assert np.isfinite(hgb.mean).all()


@pytest.mark.parametrize("n", [30, 40, 100])
def test_auto_on_short_series_uses_random_walk_and_says_why(n: int) -> None:
    y = make_prices(n=n, seed=30)
    fc = make_model("auto").fit(y).predict(horizon=30)
    assert np.isfinite(fc.mean).all()
    assert fc.info["chosen"] == "random_walk"
    if n == 30:
        assert "too little data" in fc.info["reason"]


def test_gbm_needs_enough_history() -> None:
    from energy_nb.models import InsufficientDataError

    with pytest.raises(InsufficientDataError, match="at least 120"):
        make_model("gbm").fit(make_prices(n=100))


def test_ensemble_reuses_offered_fits_only_when_identical(wti: pd.Series) -> None:
    y = wti.loc["2015":"2024-06-28"]
    arima = make_model("arima").fit(y)
    theta = make_model("theta").fit(y)
    plain = make_model("ensemble", members=("random_walk", "arima", "theta")).fit(y)
    shared = (make_model("ensemble", members=("random_walk", "arima", "theta"))
              .reuse_members([arima, theta]).fit(y))
    assert plain.n_reused_ == 0 and shared.n_reused_ == 2
    a, b = plain.predict(30, (80, 95)), shared.predict(30, (80, 95))
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.lower[95], b.lower[95])
    # the copies are independent: updating the ensemble leaves the offered model alone
    shared.update(wti.loc["2015":"2024-07-31"])
    assert len(arima.series_) == len(y)

    ens = make_model("ensemble", members=("random_walk", "arima"))
    other_data = make_model("arima").fit(y.iloc[:-1])
    other_params = make_model("arima", max_p=1).fit(y)
    updated = make_model("arima").fit(y.iloc[:-5]).update(y)  # same prices, older parameters
    assert ens.reuse_members([other_data, other_params, updated]).fit(y).n_reused_ == 0
    assert ens.fit(y).n_reused_ == 0  # an offer is used by one fit only
