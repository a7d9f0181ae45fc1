"""Interface conformance of every registered model (parametrised over MODEL_NAMES)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from model_series import make_prices

from energy_nb.models import (
    MODEL_NAMES,
    Forecast,
    ForecastModel,
    InvalidParameterError,
    NotFittedError,
    make_model,
)

REQUIRED = {"random_walk", "drift"}


def test_registry_has_required_names() -> None:
    assert REQUIRED <= set(MODEL_NAMES)


def test_make_model_is_case_insensitive() -> None:
    assert make_model("Random_Walk").name == "random_walk"
    assert make_model("  DRIFT ").name == "drift"


def test_unknown_model_lists_known_names() -> None:
    with pytest.raises(InvalidParameterError, match="known models: .*random_walk"):
        make_model("prophet")


def test_unknown_parameter_is_rejected() -> None:
    with pytest.raises(InvalidParameterError, match="bogus"):
        make_model("drift", bogus=3)


def test_bad_parameter_value_is_rejected() -> None:
    with pytest.raises(InvalidParameterError, match="shrink"):
        make_model("drift", shrink=2.0)
    with pytest.raises(InvalidParameterError, match="calibration_window"):
        make_model("random_walk", calibration_window=-1)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_constructor_only_stores_params(name: str) -> None:
    model = make_model(name)
    assert isinstance(model, ForecastModel)
    params = model.get_params()
    assert all(not key.endswith("_") for key in params)
    assert not [a for a in vars(model) if a.endswith("_")], "fitted state before fit"
    # get_params round-trips through the constructor (sklearn convention)
    clone = type(model)(**params)
    assert clone.get_params() == params


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_predict_before_fit_raises(name: str) -> None:
    with pytest.raises(NotFittedError):
        make_model(name).predict(horizon=3)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forecast_shape_and_contract(name: str) -> None:
    y = make_prices(n=420, seed=1)
    model = make_model(name)
    assert model.fit(y) is model
    fc = model.predict(horizon=7, levels=(95, 80))
    assert isinstance(fc, Forecast)
    assert fc.model == name and fc.commodity == "WTI"
    assert fc.origin == y.index[-1]
    expected_dates = pd.bdate_range(y.index[-1] + pd.offsets.BDay(1), periods=7)
    assert list(fc.dates) == list(expected_dates)
    assert fc.levels == (80, 95)
    assert fc.mean.shape == (7,) and np.isfinite(fc.mean).all() and (fc.mean > 0).all()
    for level in fc.levels:
        assert fc.lower[level].shape == (7,) and fc.upper[level].shape == (7,)
        assert (fc.lower[level] <= fc.mean + 1e-9).all()
        assert (fc.mean <= fc.upper[level] + 1e-9).all()
    assert (fc.lower[95] <= fc.lower[80] + 1e-9).all()
    assert (fc.upper[80] <= fc.upper[95] + 1e-9).all()
    # bands widen with the step on a random walk: last width > first width
    assert fc.upper[95][-1] - fc.lower[95][-1] > fc.upper[95][0] - fc.lower[95][0]
    frame = fc.to_frame()
    assert list(frame.columns) == ["date", "mean", "lower_80", "upper_80", "lower_95", "upper_95"]
    payload = json.loads(json.dumps(fc.to_dict()))
    again = Forecast.from_dict(payload)
    np.testing.assert_allclose(again.mean, fc.mean)
    np.testing.assert_allclose(again.upper[95], fc.upper[95])
    assert again.origin == fc.origin and list(again.dates) == list(fc.dates)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_update_with_longer_series_moves_origin(name: str) -> None:
    y = make_prices(n=460, seed=2)
    model = make_model(name).fit(y.iloc[:440])
    assert model.update(y) is model
    fc = model.predict(horizon=3)
    assert fc.origin == y.index[-1]
    assert np.isfinite(fc.mean).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_predict_is_repeatable_and_levels_optional(name: str) -> None:
    y = make_prices(n=400, seed=3)
    model = make_model(name).fit(y)
    first = model.predict(horizon=5)
    second = model.predict(horizon=5)
    np.testing.assert_array_equal(first.mean, second.mean)
    bare = model.predict(horizon=5, levels=())
    assert bare.levels == () and bare.to_frame().shape == (5, 2)


@pytest.mark.parametrize(
    ("horizon", "levels", "match"),
    [
        (0, (80,), "horizon"),
        (251, (80,), "horizon"),
        (2.5, (80,), "horizon"),
        (True, (80,), "horizon"),
        (5, (0,), "level"),
        (5, (100,), "level"),
        (5, (80.5,), "level"),
        (5, "80", "levels"),
    ],
)
def test_bad_horizon_or_levels(horizon: object, levels: object, match: str) -> None:
    model = make_model("random_walk").fit(make_prices(n=100))
    with pytest.raises(InvalidParameterError, match=match):
        model.predict(horizon=horizon, levels=levels)  # type: ignore[arg-type]


def test_random_walk_repeats_last_price_and_drift_extrapolates() -> None:
    y = make_prices(n=300, seed=4)
    fc = make_model("random_walk").fit(y).predict(horizon=4)
    np.testing.assert_allclose(fc.mean, y.iloc[-1])
    fc = make_model("drift").fit(y).predict(horizon=4)
    daily = (np.log(y.iloc[-1]) - np.log(y.iloc[0])) / (len(y) - 1)
    np.testing.assert_allclose(fc.mean, y.iloc[-1] * np.exp(daily * np.arange(1, 5)))
